"""What a service costs a given account, in the account's currency, and the
per-account prices (custom rates) and the base currency the owner sets."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, select

from smmpanel.accounts.errors import InvalidAccountInput, PanelInUse
from smmpanel.accounts.models import Account, Currency
from smmpanel.accounts.service import CURRENCY_RE, account_by_username
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, money, record_audit, subject
from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.catalog.models import AccountServiceRate, Service
from smmpanel.db import Database
from smmpanel.money import convert_units, parse_rate, to_units
from smmpanel.panel.settings import get_setting, put_setting


def account_rate(base_rate: int, custom_rate: int | None, fx_rate: Decimal) -> int:
    """The price per 1000 an account sees and pays: its custom rate when it has
    one, else the service's, converted from the base currency and rounded to 5
    places (the charge is computed from this rounded rate, so what `services`
    shows is exactly what `add` charges)."""
    rate = base_rate if custom_rate is None else custom_rate
    if fx_rate == 1:
        return rate
    return convert_units(rate, fx_rate)


def set_custom_rate(
    db: Database,
    *,
    username: str,
    service_id: int,
    rate: Decimal | str | None,
    actor: Actor = Actor.system(),
) -> None:
    """Give the account its own price (base currency, per 1000) for one service;
    `rate=None` removes it."""
    with db.write() as session:
        account = account_by_username(session, username)
        if session.get(Service, service_id) is None:
            raise ServiceNotFound(f"no service {service_id}")
        old = session.get(AccountServiceRate, (account.id, service_id))
        before = None if old is None else old.rate
        session.execute(
            delete(AccountServiceRate).where(
                AccountServiceRate.account_id == account.id,
                AccountServiceRate.service_id == service_id,
            )
        )
        units = None if rate is None else to_units(parse_rate(rate))
        if units is not None:
            session.add(
                AccountServiceRate(account_id=account.id, service_id=service_id, rate=units)
            )
        record_audit(
            session,
            actor=actor,
            action=AuditAction.RATE_SET,
            subject=account_subject(account.id),
            before={"service": service_id, "rate": money(before)},
            after={"service": service_id, "rate": money(units)},
        )


def set_base_currency(db: Database, *, code: str, actor: Actor) -> None:
    """Choose the base currency; only on a panel with no accounts or services yet,
    since every stored base-currency amount would change meaning."""
    code = (code or "").strip().upper()
    if not CURRENCY_RE.match(code):
        raise InvalidAccountInput("a currency code is 3-8 capital letters, like EUR")
    with db.write() as session:
        used = session.scalar(select(func.count(Account.id))) or session.scalar(
            select(func.count(Service.id))
        )
        if used:
            raise PanelInUse("the base currency can only be chosen on an empty panel")
        record_audit(
            session,
            actor=actor,
            action=AuditAction.BASE_CURRENCY_SET,
            subject=subject("setting", "base_currency"),
            before={"base_currency": get_setting(session, "base_currency")},
            after={"base_currency": code},
        )
        put_setting(session, "base_currency", code, allow_internal=True)
        row = session.get(Currency, code)
        if row is None:
            session.add(Currency(code=code, rate="1"))
        else:
            row.rate = "1"
