"""What the settings page shows: the panel's stored settings and texts, its
currencies and gateways, and the settings that come from the environment
(SMTP, worker intervals, API rate limits), which the page shows read-only
with the variable that changes each: a running server reads them at start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from smmpanel.accounts.models import Currency
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.money import plain_decimal
from smmpanel.panel.models import SiteText
from smmpanel.panel.settings import CHOICE_KEYS, DEFAULTS, INTEGER_KEYS, INTERNAL_KEYS, get_setting
from smmpanel.panel.site import LANGUAGES, TEXT_KEYS, logo_version
from smmpanel.payments.bonus import format_bonus_rules
from smmpanel.payments.queries import GatewayRow, list_gateways
from smmpanel.payments.registry import installed_gateways
from smmpanel.payments.setup import COMMON_FIELDS, gateway_fields

# Stored settings the page offers, in this order ("terms" is the short text of
# earlier panels: the terms page's text is now one of the texts below).
EDITABLE = (
    "panel_name",
    "signup",
    "public_services",
    "duplicate_link_scope",
    "default_refill_days",
    "add_funds_text",
)
assert set(EDITABLE) <= set(DEFAULTS) - INTERNAL_KEYS

# Environment settings shown read-only: (variable, attribute of Settings).
ENVIRONMENT = {
    "smtp": (
        "smtp_host",
        "smtp_port",
        "smtp_username",
        "smtp_password",
        "smtp_from",
        "smtp_starttls",
    ),
    "worker": (
        "status_sync_seconds",
        "reconcile_seconds",
        "price_sync_seconds",
        "dripfeed_seconds",
        "subscription_expiry_seconds",
        "order_wait_alert_minutes",
        "deposit_check_seconds",
        "deposit_check_after_minutes",
        "deposit_expire_hours",
    ),
    "rate_limits": (
        "rate_limits",
        "rate_limit_key",
        "rate_limit_ip",
        "rate_limit_burst_seconds",
        "rate_limit_failed_keys",
        "rate_limit_lockout",
    ),
}
SECRET_ENVIRONMENT = {"smtp_password"}


@dataclass(frozen=True)
class StoredSetting:
    key: str
    value: str
    choices: tuple[str, ...]  # () for free text
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class GatewayForm:
    """A gateway's fields as the page's form shows them: a secret one never
    carries its value, only whether it is set."""

    code: str
    title: str
    enabled: bool
    installed: bool
    missing: list[str]
    fields: list[dict[str, Any]]


def environment(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Each group's (variable, value shown); a secret is shown as set / not set."""
    shown: dict[str, list[tuple[str, str]]] = {}
    for group, names in ENVIRONMENT.items():
        rows = []
        for name in names:
            value = getattr(settings, name)
            if name in SECRET_ENVIRONMENT:
                text = "set" if value is not None and value.get_secret_value() else "not set"
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
            rows.append((f"SMMPANEL_{name.upper()}", text))
        shown[group] = rows
    return shown


def settings_state(db: Database) -> dict[str, Any]:
    """Everything stored the page shows, read in one transaction."""
    with db.read() as session:
        stored = [
            StoredSetting(
                key=key,
                value=get_setting(session, key),
                choices=CHOICE_KEYS.get(key, ()),
                low=INTEGER_KEYS[key][0] if key in INTEGER_KEYS else None,
                high=INTEGER_KEYS[key][1] if key in INTEGER_KEYS else None,
            )
            for key in EDITABLE
        ]
        texts = {(t.key, t.language): t.text for t in session.scalars(select(SiteText))}
        currencies = [
            (c.code, c.rate) for c in session.scalars(select(Currency).order_by(Currency.code))
        ]
        gateways = [_gateway_form(row) for row in list_gateways(session)]
        return {
            "stored": stored,
            "texts": [
                (key, language, texts.get((key, language), ""))
                for key in TEXT_KEYS
                for language in LANGUAGES
            ],
            "base_currency": get_setting(session, "base_currency"),
            "currencies": currencies,
            "logo_version": logo_version(session),
            "gateways": gateways,
        }


def _gateway_form(row: GatewayRow) -> GatewayForm:
    installed = installed_gateways().get(row.code)
    common = {
        "currency": row.currency,
        "min": plain_decimal(row.min_amount) if row.min_amount else "",
        "max": plain_decimal(row.max_amount) if row.max_amount else "",
        "bonus": format_bonus_rules(row.bonus),
        # The gateway's own title is the default: prefilled, it would be stored as the owner's.
        "title": "" if installed is not None and row.title == installed.title else row.title,
    }
    fields = [
        {"name": f.name, "label": f.label, "secret": False, "value": common.get(f.name, "")}
        for f in COMMON_FIELDS
    ]
    for own in gateway_fields(row.code):
        shown = row.settings.get(own.name, "")
        fields.append(
            {
                "name": own.name,
                "label": own.label,
                "secret": own.secret,
                # A secret's value never reaches the page: "set" or "not set" only.
                "value": "" if own.secret else shown,
                "state": shown if own.secret else "",
            }
        )
    return GatewayForm(
        code=row.code,
        title=row.title,
        enabled=row.enabled,
        installed=row.installed,
        missing=list(row.missing),
        fields=fields,
    )
