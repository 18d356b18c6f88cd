"""The owner's setup of each gateway: the settings every gateway has (currency,
limits, bonus rules, title) and the gateway's own fields, secrets sealed.

    smmpanel gateways set stripe secret_key=... currency=EUR min=5 bonus=100:5
    smmpanel gateways enable stripe
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.money import MoneyError, parse_exact, plain_decimal
from smmpanel.panel.settings import get_setting
from smmpanel.payments.bonus import BonusRule, format_bonus_rules, parse_bonus_rules
from smmpanel.payments.errors import (
    GatewaySetupIncomplete,
    InvalidGatewaySetting,
    UnknownGateway,
)
from smmpanel.payments.gateway import Gateway, SettingField
from smmpanel.payments.models import PaymentGateway
from smmpanel.payments.registry import installed_gateways
from smmpanel.secretbox import (
    CURRENT_KEY,
    OLD_KEY,
    PLAIN,
    SecretBox,
    SecretKeyError,
    reveal_secret,
    seal_secret,
)
from smmpanel.timeutil import utcnow

# The settings every gateway has, beside its own `fields`.
COMMON_FIELDS = (
    SettingField(
        "currency", "Currency customers pay in (default: the base currency)", False, False
    ),
    SettingField("min", "Smallest deposit", False, False, "1"),
    SettingField("max", "Largest deposit", False, False, "10000"),
    SettingField("bonus", "Bonus rules, like 100:5,500:10 (+5% from 100)", False, False),
    SettingField("title", "Name customers see (default: the gateway's)", False, False),
)
COMMON_NAMES = frozenset(f.name for f in COMMON_FIELDS)
CURRENCY = re.compile(r"^[A-Z]{3,8}$")
MAX_VALUE = 4000  # one setting's value (instructions can be a few lines)
# The largest deposit any gateway may take (its `max` at most), in its currency.
MAX_DEPOSIT = Decimal(10) ** 9
MAX_TITLE = 64


@dataclass(frozen=True)
class GatewaySetup:
    """One gateway's setup as the service uses it (secrets revealed)."""

    code: str
    enabled: bool
    currency: str
    min_amount: Decimal
    max_amount: Decimal
    bonus: tuple[BonusRule, ...]
    title: str  # "" when the owner set none: the gateway's own title applies
    config: dict[str, str] = field(default_factory=dict)  # the gateway's own fields


def gateway_fields(code: str) -> tuple[SettingField, ...]:
    """The gateway's own fields ((), when it is not installed)."""
    gateway = installed_gateways().get(code)
    return () if gateway is None else tuple(gateway.fields)


def load_setup(session: Session, code: str, *, reveal: bool = True) -> GatewaySetup:
    """The gateway's setup; a gateway the owner never set up is disabled, with
    the defaults.  `reveal=False` leaves `config` empty (no secret decrypted:
    for lists)."""
    row = session.get(PaymentGateway, code)
    stored = _stored(row)
    return GatewaySetup(
        code=code,
        enabled=bool(row and row.enabled),
        currency=stored.get("currency") or get_setting(session, "base_currency"),
        min_amount=Decimal(stored.get("min", "1")),
        max_amount=Decimal(stored.get("max", "10000")),
        bonus=parse_bonus_rules(stored.get("bonus", "")),
        title=stored.get("title", ""),
        config=_config(code, stored) if reveal else {},
    )


def _config(code: str, stored: Mapping[str, str]) -> dict[str, str]:
    """The gateway's own settings, secrets decrypted, defaults filled in."""
    secret = {f.name for f in gateway_fields(code) if f.secret}
    config = {
        name: reveal_secret(value) if name in secret else value
        for name, value in stored.items()
        if name not in COMMON_NAMES
    }
    for own in gateway_fields(code):
        if own.default and own.name not in config:
            config[own.name] = own.default
    return config


def stored_settings(session: Session, code: str) -> dict[str, str]:
    """The stored values as they are (secrets still sealed), for listing."""
    return _stored(session.get(PaymentGateway, code))


def _stored(row: PaymentGateway | None) -> dict[str, str]:
    if row is None:
        return {}
    values: dict[str, Any] = json.loads(row.settings or "{}")
    return {str(k): str(v) for k, v in values.items()}


def configure_gateway(
    db: Database, *, code: str, values: Mapping[str, str], actor: Actor
) -> GatewaySetup:
    """Set (or, with an empty value, clear) some of the gateway's settings.
    UnknownGateway for a code no installed gateway has; InvalidGatewaySetting
    for an unknown name or a bad value, changing nothing."""
    gateway = _installed(code)
    own = {f.name: f for f in gateway.fields}
    with db.write() as session:
        row = session.get(PaymentGateway, code) or _new_row(session, code)
        stored = _stored(row)
        for name, value in values.items():
            _check_name(name, own)
            cleaned = _checked_value(name, value.strip())
            if not cleaned:
                stored.pop(name, None)
            else:
                stored[name] = seal_secret(cleaned) if own.get(name, _PLAIN).secret else cleaned
        _check_limits(stored)
        row.settings = json.dumps(stored, sort_keys=True)
        row.updated_at = utcnow()
        _audit_configured(session, code=code, values=values, own=own, actor=actor)
        return load_setup(session, code)


_PLAIN = SettingField("", "")


def _installed(code: str) -> type[Gateway]:
    gateway = installed_gateways().get(code)
    if gateway is None:
        raise UnknownGateway(f"no payment gateway {code[:40]!r} is installed")
    return gateway


def _new_row(session: Session, code: str) -> PaymentGateway:
    row = PaymentGateway(code=code, enabled=False, settings="{}", updated_at=utcnow())
    session.add(row)
    return row


def _check_name(name: str, own: Mapping[str, SettingField]) -> None:
    if name not in own and name not in COMMON_NAMES:
        known = ", ".join([*own, *(f.name for f in COMMON_FIELDS)])
        raise InvalidGatewaySetting(f"unknown setting {name[:40]!r}; known: {known}")


def _checked_value(name: str, value: str) -> str:
    """The value to store (normalised); InvalidGatewaySetting for a bad one."""
    if len(value) > MAX_VALUE:
        raise InvalidGatewaySetting(f"{name} takes at most {MAX_VALUE} characters")
    if not value:
        return value
    if name == "currency":
        if not CURRENCY.match(value.upper()):
            raise InvalidGatewaySetting("a currency is 3-8 letters, like EUR")
        return value.upper()
    if name in ("min", "max"):
        try:
            amount = parse_exact(value, what=name, low=Decimal("0.01"), high=MAX_DEPOSIT, places=2)
        except MoneyError as exc:
            raise InvalidGatewaySetting(str(exc)) from None
        return plain_decimal(amount)
    if name == "bonus":
        return format_bonus_rules(parse_bonus_rules(value))
    if name == "title" and len(value) > MAX_TITLE:
        raise InvalidGatewaySetting(f"title takes at most {MAX_TITLE} characters")
    return value


def _check_limits(stored: Mapping[str, str]) -> None:
    low, high = Decimal(stored.get("min", "1")), Decimal(stored.get("max", "10000"))
    if low > high:
        raise InvalidGatewaySetting(
            f"min ({plain_decimal(low)}) must not be above max ({plain_decimal(high)})"
        )


def _audit_configured(
    session: Session,
    *,
    code: str,
    values: Mapping[str, str],
    own: Mapping[str, SettingField],
    actor: Actor,
) -> None:
    # Secret values never reach the trail, nor their names as keys (the trail
    # refuses names like webhook_secret): only that they changed.
    plain = {k: v.strip() for k, v in values.items() if not own.get(k, _PLAIN).secret}
    secrets = sorted(k for k in values if own.get(k, _PLAIN).secret)
    record_audit(
        session,
        actor=actor,
        action=AuditAction.GATEWAY_CONFIGURED,
        subject=subject("gateway", code),
        after={"values": plain, "secrets_changed": secrets},
    )


def missing_settings(code: str, stored: Mapping[str, str]) -> list[str]:
    """The gateway's required fields that have no value (nor a default)."""
    return [
        f.name
        for f in gateway_fields(code)
        if f.required and not f.default and not stored.get(f.name)
    ]


def enable_gateway(db: Database, *, code: str, actor: Actor) -> None:
    """Offer the gateway to customers; GatewaySetupIncomplete when a required
    setting is missing."""
    _installed(code)
    with db.write() as session:
        row = session.get(PaymentGateway, code) or _new_row(session, code)
        missing = missing_settings(code, _stored(row))
        if missing:
            raise GatewaySetupIncomplete(
                f"set {', '.join(missing)} first (`smmpanel gateways set {code} NAME=VALUE`)"
            )
        _switch(session, row, enabled=True, actor=actor)


def disable_gateway(db: Database, *, code: str, actor: Actor) -> None:
    """Stop offering the gateway.  Its webhooks are still taken: payments
    already started are credited when they complete."""
    _installed(code)
    with db.write() as session:
        row = session.get(PaymentGateway, code) or _new_row(session, code)
        _switch(session, row, enabled=False, actor=actor)


def _switch(session: Session, row: PaymentGateway, *, enabled: bool, actor: Actor) -> None:
    before = bool(row.enabled)
    row.enabled = enabled
    row.updated_at = utcnow()
    record_audit(
        session,
        actor=actor,
        action=AuditAction.GATEWAY_ENABLED if enabled else AuditAction.GATEWAY_DISABLED,
        subject=subject("gateway", row.code),
        before={"enabled": before},
        after={"enabled": enabled},
    )


def reseal_gateway_secrets(
    session: Session, box: SecretBox, *, dry_run: bool = False
) -> tuple[int, int, int]:
    """Encrypt every gateway secret with `box`'s current key, in the caller's
    transaction (for `smmpanel secrets rotate`); returns how many were
    (plain, under a former key, already current).  A value no key opens
    raises SecretKeyError, naming the gateway and setting, never the value."""
    counts = {PLAIN: 0, OLD_KEY: 0, CURRENT_KEY: 0}
    rows = session.scalars(
        select(PaymentGateway).order_by(PaymentGateway.code).with_for_update()
    ).all()
    for row in rows:
        stored = _stored(row)
        secret = [f.name for f in gateway_fields(row.code) if f.secret and stored.get(f.name)]
        for name in secret:
            try:
                state = box.state(stored[name])
            except SecretKeyError as exc:
                raise SecretKeyError(f"setting {name} of gateway {row.code}: {exc}") from None
            counts[state] += 1
            if state != CURRENT_KEY:
                stored[name] = box.seal(box.open(stored[name]))
        if secret and not dry_run:
            row.settings = json.dumps(stored, sort_keys=True)
    return counts[PLAIN], counts[OLD_KEY], counts[CURRENT_KEY]
