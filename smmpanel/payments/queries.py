"""Reads over gateways and deposits, for the pages and the command line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.config import Settings, current_settings
from smmpanel.payments.bonus import BonusRule
from smmpanel.payments.errors import InvalidGatewaySetting, PaymentsError
from smmpanel.payments.models import Deposit, DepositEvent, PaymentGateway
from smmpanel.payments.registry import installed_gateways
from smmpanel.payments.setup import GatewaySetup, load_setup, missing_settings, stored_settings
from smmpanel.payments.states import DepositState
from smmpanel.timeutil import as_utc


@dataclass(frozen=True)
class OfferedGateway:
    """A gateway customers may pay through, as the add-funds page shows it."""

    code: str
    title: str
    currency: str
    min_amount: Decimal
    max_amount: Decimal
    bonus: tuple[BonusRule, ...]
    manual: bool


def offered_gateways(session: Session, settings: Settings | None = None) -> list[OfferedGateway]:
    """The enabled gateways that are installed (the demo's only in demo mode),
    by title."""
    settings = settings or current_settings()
    installed = installed_gateways()
    codes = session.scalars(select(PaymentGateway.code).where(PaymentGateway.enabled.is_(True)))
    offered = []
    for code in codes:
        gateway = installed.get(code)
        if gateway is None or (gateway.demo_only and not settings.demo_payments):
            continue
        setup = _setup_or_none(session, code)
        if setup is None:
            continue
        offered.append(
            OfferedGateway(
                code=code,
                title=setup.title or gateway.title,
                currency=setup.currency,
                min_amount=setup.min_amount,
                max_amount=setup.max_amount,
                bonus=setup.bonus,
                manual=bool(gateway.manual),
            )
        )
    return sorted(offered, key=lambda g: (g.title.lower(), g.code))


@dataclass(frozen=True)
class DepositRow:
    """One deposit in a list.  Amounts in minor units: `amount` of `currency`,
    `credit_amount`/`bonus_amount`/`owed_amount` of `account_currency`."""

    id: int
    reference: str
    account_id: int
    username: str
    gateway: str
    amount: int
    currency: str
    credit_amount: int
    bonus_amount: int
    account_currency: str
    state: str
    external_id: str | None
    owed_amount: int
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None


@dataclass(frozen=True)
class DepositEventRow:
    id: int
    created_at: datetime
    kind: str
    from_state: str | None
    to_state: str
    actor: str
    gateway_event_id: str | None
    note: str


@dataclass(frozen=True)
class DepositView:
    """One deposit with what the customer needs to pay it and its history
    (without the gateways' raw payloads, which stay in the database)."""

    deposit: DepositRow
    redirect_url: str | None
    instructions: str | None
    paid_amount: int | None
    paid_currency: str | None
    events: list[DepositEventRow]


_ROWS = select(Deposit, Account.username).join(Account, Account.id == Deposit.account_id)


def account_deposits(
    session: Session, *, account_id: int, limit: int = 50, before: int | None = None
) -> list[DepositRow]:
    """The account's deposits, newest first, `limit` of them below id `before`."""
    query = _ROWS.where(Deposit.account_id == account_id).order_by(Deposit.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Deposit.id < before)
    return [_row(deposit, username) for deposit, username in session.execute(query)]


def list_deposits(
    session: Session,
    *,
    state: str | None = None,
    gateway: str | None = None,
    account_id: int | None = None,
    limit: int = 100,
) -> list[DepositRow]:
    """Deposits for the owner, newest first; InvalidGatewaySetting for an unknown state."""
    query = _ROWS.order_by(Deposit.id.desc()).limit(limit)
    if state is not None:
        if state not in {s.value for s in DepositState}:
            known = ", ".join(s.value for s in DepositState)
            raise InvalidGatewaySetting(f"unknown deposit state {state[:20]!r}; one of: {known}")
        query = query.where(Deposit.state == state)
    if gateway is not None:
        query = query.where(Deposit.gateway == gateway)
    if account_id is not None:
        query = query.where(Deposit.account_id == account_id)
    return [_row(deposit, username) for deposit, username in session.execute(query)]


def deposit_view(
    session: Session, *, deposit_id: int, account_id: int | None = None
) -> DepositView | None:
    """One deposit (only the account's own, when `account_id` is given)."""
    query = _ROWS.where(Deposit.id == deposit_id)
    if account_id is not None:
        query = query.where(Deposit.account_id == account_id)
    found = session.execute(query).first()
    if found is None:
        return None
    deposit, username = found
    events = session.scalars(
        select(DepositEvent).where(DepositEvent.deposit_id == deposit_id).order_by(DepositEvent.id)
    )
    return DepositView(
        deposit=_row(deposit, username),
        redirect_url=deposit.redirect_url,
        instructions=deposit.instructions,
        paid_amount=deposit.paid_amount,
        paid_currency=deposit.paid_currency,
        events=[_event_row(event) for event in events],
    )


def _row(deposit: Deposit, username: str) -> DepositRow:
    return DepositRow(
        id=deposit.id,
        reference=deposit.reference,
        account_id=deposit.account_id,
        username=username,
        gateway=deposit.gateway,
        amount=deposit.amount,
        currency=deposit.currency,
        credit_amount=deposit.credit_amount,
        bonus_amount=deposit.bonus_amount,
        account_currency=deposit.account_currency,
        state=deposit.state,
        external_id=deposit.external_id,
        owed_amount=deposit.owed_amount,
        created_at=as_utc(deposit.created_at),
        updated_at=as_utc(deposit.updated_at),
        paid_at=None if deposit.paid_at is None else as_utc(deposit.paid_at),
    )


def _event_row(event: DepositEvent) -> DepositEventRow:
    return DepositEventRow(
        id=event.id,
        created_at=as_utc(event.created_at),
        kind=event.kind,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=event.actor,
        gateway_event_id=event.gateway_event_id,
        note=event.note,
    )


@dataclass(frozen=True)
class GatewayRow:
    """A gateway for the owner: installed or set up (or both).  `settings`
    shows each of the gateway's own fields, a secret one as "set"/"not set"."""

    code: str
    title: str
    installed: bool
    demo_only: bool
    manual: bool
    enabled: bool
    currency: str
    min_amount: Decimal
    max_amount: Decimal
    bonus: tuple[BonusRule, ...]
    settings: dict[str, str]
    missing: list[str]


def list_gateways(session: Session) -> list[GatewayRow]:
    """Every installed gateway and every one set up, by code (secrets never revealed)."""
    installed = installed_gateways()
    configured = set(session.scalars(select(PaymentGateway.code)))
    rows = []
    for code in sorted(set(installed) | configured):
        gateway = installed.get(code)
        stored = stored_settings(session, code)
        fields = () if gateway is None else gateway.fields
        shown = {
            f.name: ("set" if stored.get(f.name) else "not set")
            if f.secret
            else stored.get(f.name, f.default)
            for f in fields
        }
        setup = _setup_or_none(session, code)
        rows.append(
            GatewayRow(
                code=code,
                title=(setup.title if setup and setup.title else None)
                or (gateway.title if gateway is not None else code),
                installed=gateway is not None,
                demo_only=bool(gateway is not None and gateway.demo_only),
                manual=bool(gateway is not None and gateway.manual),
                enabled=bool(setup and setup.enabled),
                currency=setup.currency if setup else "",
                min_amount=setup.min_amount if setup else Decimal(0),
                max_amount=setup.max_amount if setup else Decimal(0),
                bonus=setup.bonus if setup else (),
                settings=shown,
                missing=missing_settings(code, stored),
            )
        )
    return rows


def _setup_or_none(session: Session, code: str) -> GatewaySetup | None:
    """The setup without its secrets (a list needs none); a bad stored value
    shows as no setup rather than failing the whole list."""
    try:
        return load_setup(session, code, reveal=False)
    except (PaymentsError, ArithmeticError, ValueError):
        return None
