"""Panel-wide settings the owner changes at run time, kept in the database."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.panel.errors import InvalidSetting
from smmpanel.panel.models import Setting

DUPLICATE_LINK_SCOPE = "duplicate_link_scope"
# Whose active orders a new order's link (on the same service) must not repeat:
# every account's, the same account's, or nobody's.
LINK_SCOPES = ("panel", "account", "off")

DEFAULTS: dict[str, str] = {
    "base_currency": "USD",
    DUPLICATE_LINK_SCOPE: "panel",
    "default_refill_days": "30",
    # The customer web (docs/web.md): its name, whether anyone may sign up, whether
    # the service list is public, and the terms page's text.
    "panel_name": "smmpanel",
    "signup": "on",
    "public_services": "on",
    "terms": "",
    # The add-funds page's text while the panel has no payment method.
    "add_funds_text": "Ask the panel owner to add funds: open a support ticket with the amount.",
}
CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    DUPLICATE_LINK_SCOPE: LINK_SCOPES,
    "signup": ("on", "off"),
    "public_services": ("on", "off"),
}
INTEGER_KEYS: dict[str, tuple[int, int]] = {"default_refill_days": (1, 3650)}

# The on/off setting that duplicate_link_scope replaced.  A panel that stored it
# keeps its meaning (on -> panel, off -> off) until the new key is set, and
# `settings set duplicate_link_check on|off` still works, storing the new key.
LEGACY_LINK_CHECK = "duplicate_link_check"
_ON_OFF = {"on": "on", "true": "on", "1": "on", "yes": "on"} | {
    "off": "off",
    "false": "off",
    "0": "off",
    "no": "off",
}

# Changed only through their own commands (e.g. set_base_currency), never directly.
INTERNAL_KEYS = {"base_currency"}


_SETTING = select(Setting.value).where(Setting.key == bindparam("key"))
_LINK_SCOPE = select(Setting.key, Setting.value).where(
    Setting.key.in_((DUPLICATE_LINK_SCOPE, LEGACY_LINK_CHECK))
)

# The stored duplicate_link_scope and its legacy key as two scalar subqueries,
# for a statement of the hot path to read them in its own round trip
# (orders.offers); `link_scope_of` makes the setting of them.
LINK_SCOPE_COLUMNS = (
    select(Setting.value).where(Setting.key == DUPLICATE_LINK_SCOPE).scalar_subquery(),
    select(Setting.value).where(Setting.key == LEGACY_LINK_CHECK).scalar_subquery(),
)


def get_setting(session: Session, key: str) -> str:
    if key == DUPLICATE_LINK_SCOPE:
        return duplicate_link_scope(session)
    value = session.execute(_SETTING, {"key": key}).scalar_one_or_none()
    return DEFAULTS[key] if value is None else value


def get_int(session: Session, key: str) -> int:
    return int(get_setting(session, key))


def duplicate_link_scope(reader: Session | Connection) -> str:
    """`panel`, `account` or `off` (one query)."""
    stored: dict[str, str] = {key: value for key, value in reader.execute(_LINK_SCOPE)}
    return link_scope_of(stored.get(DUPLICATE_LINK_SCOPE), stored.get(LEGACY_LINK_CHECK))


def link_scope_of(scope: str | None, legacy: str | None) -> str:
    """duplicate_link_scope from its two stored values (None: not stored), as
    LINK_SCOPE_COLUMNS reads them in another context's statement."""
    if scope is not None:
        return scope
    if legacy is not None:
        return "off" if legacy == "off" else "panel"
    return DEFAULTS[DUPLICATE_LINK_SCOPE]


def put_setting(
    session: Session, key: str, value: str, *, allow_internal: bool = False
) -> tuple[str, str]:
    """Validate and store one setting; returns the key and value stored (the
    legacy duplicate_link_check is stored as duplicate_link_scope)."""
    key, value = _checked(key, value.strip(), allow_internal=allow_internal)
    if key == DUPLICATE_LINK_SCOPE:
        session.execute(delete(Setting).where(Setting.key == LEGACY_LINK_CHECK))
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    return key, value


MAX_VALUE = 255  # settings.value's column


def change_setting(db: Database, *, key: str, value: str, actor: Actor) -> tuple[str, str]:
    """The owner changes a setting (put_setting in a transaction of its own, audited);
    returns the key and value stored."""
    with db.write() as session:
        stored_key, _ = _checked(key, value.strip(), allow_internal=False)
        before = get_setting(session, stored_key)
        stored_key, stored = put_setting(session, key, value)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.SETTING_CHANGED,
            subject=subject("setting", stored_key),
            before={stored_key: before},
            after={stored_key: stored},
        )
        return stored_key, stored


def _checked(key: str, value: str, *, allow_internal: bool) -> tuple[str, str]:
    if key == LEGACY_LINK_CHECK:
        switch = _ON_OFF.get(value.lower())
        if switch is None:
            raise InvalidSetting(f"{key} takes on or off")
        return DUPLICATE_LINK_SCOPE, "panel" if switch == "on" else "off"
    settable = set(DEFAULTS) - (set() if allow_internal else INTERNAL_KEYS)
    if key not in settable:
        raise InvalidSetting(f"unknown setting {key!r}; known: {', '.join(sorted(settable))}")
    if len(value) > MAX_VALUE:
        raise InvalidSetting(f"{key} takes at most {MAX_VALUE} characters")
    if key in CHOICE_KEYS:
        value = value.lower()
        if value not in CHOICE_KEYS[key]:
            raise InvalidSetting(f"{key} takes one of: {', '.join(CHOICE_KEYS[key])}")
    if key in INTEGER_KEYS:
        low, high = INTEGER_KEYS[key]
        if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
            raise InvalidSetting(f"{key} takes a whole number from {low} to {high}")
        value = str(int(value))
    return key, value
