"""Panel-wide settings the owner changes at run time, kept in the database."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import InvalidAccountInput
from smmpanel.accounts.models import Setting

DEFAULTS: dict[str, str] = {
    "base_currency": "USD",
    # Refuse a new order while an active one targets the same link on the same service.
    "duplicate_link_check": "on",
    "default_refill_days": "30",
}
BOOLEAN_KEYS = {"duplicate_link_check"}
INTEGER_KEYS = {"default_refill_days"}


_SETTING = select(Setting.value).where(Setting.key == bindparam("key"))


def get_setting(session: Session, key: str) -> str:
    value = session.execute(_SETTING, {"key": key}).scalar_one_or_none()
    return DEFAULTS[key] if value is None else value


def get_flag(session: Session, key: str) -> bool:
    return get_setting(session, key) == "on"


def get_int(session: Session, key: str) -> int:
    return int(get_setting(session, key))


# Changed only through their own commands (e.g. set_base_currency), never directly.
INTERNAL_KEYS = {"base_currency"}


def put_setting(session: Session, key: str, value: str, *, allow_internal: bool = False) -> str:
    """Validate and store one setting; returns the stored value."""
    settable = set(DEFAULTS) - (set() if allow_internal else INTERNAL_KEYS)
    if key not in settable:
        raise InvalidAccountInput(f"unknown setting {key!r}; known: {', '.join(sorted(settable))}")
    value = value.strip()
    if key in BOOLEAN_KEYS:
        value = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}.get(
            value.lower(), value.lower()
        )
        if value not in ("on", "off"):
            raise InvalidAccountInput(f"{key} takes on or off")
    if key in INTEGER_KEYS and not (value.isdigit() and int(value) > 0):
        raise InvalidAccountInput(f"{key} takes a positive whole number")
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    return value
