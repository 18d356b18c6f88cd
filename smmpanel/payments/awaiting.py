"""Deposits that wait for staff: payments held (the amount or currency paid
differs from the deposit's) and manual transfers still open.  Exactly those
`approve_deposit` and `reject_deposit` take, except manual transfers that
failed or expired: nobody is waiting on those any more (the commands still
take them, by id, from the command line)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.queries import DepositRow, _row
from smmpanel.payments.registry import installed_gateways
from smmpanel.payments.states import DepositState

S = DepositState
# Shown at most, oldest first (the longest waiting).
AWAITING_LIMIT = 200


@dataclass(frozen=True)
class AwaitingDeposit:
    """A deposit for a decision: `paid_amount` of `paid_currency` is what the
    gateway reported (None for a transfer nobody reported); `why` says why it
    waits (the note of its move to held, or that it is a manual transfer)."""

    deposit: DepositRow
    paid_amount: int | None
    paid_currency: str | None
    held: bool
    why: str


def _awaiting() -> ColumnElement[bool]:
    manual = [code for code, gateway in installed_gateways().items() if gateway.manual]
    open_manual = and_(
        Deposit.gateway.in_(manual), Deposit.state.in_([S.CREATED.value, S.PENDING.value])
    )
    return or_(Deposit.state == S.HELD.value, open_manual)


def deposits_awaiting(session: Session, *, limit: int = AWAITING_LIMIT) -> list[AwaitingDeposit]:
    """Held deposits and open manual transfers, oldest first."""
    query = (
        select(Deposit, Account.username)
        .join(Account, Account.id == Deposit.account_id)
        .where(_awaiting())
        .order_by(Deposit.id)
        .limit(limit)
    )
    found = list(session.execute(query))
    reasons = _hold_notes(session, [deposit.id for deposit, _ in found])
    return [
        AwaitingDeposit(
            deposit=_row(deposit, username),
            paid_amount=deposit.paid_amount,
            paid_currency=deposit.paid_currency,
            held=deposit.state == S.HELD,
            why=reasons.get(deposit.id, "") if deposit.state == S.HELD else "manual transfer",
        )
        for deposit, username in found
    ]


def count_deposits_awaiting(session: Session) -> int:
    return int(session.scalar(select(func.count(Deposit.id)).where(_awaiting())) or 0)


def _hold_notes(session: Session, deposit_ids: list[int]) -> dict[int, str]:
    """The note of each deposit's latest move into held, in one query."""
    if not deposit_ids:
        return {}
    query = (
        select(DepositEvent.deposit_id, DepositEvent.note)
        .where(
            DepositEvent.deposit_id.in_(deposit_ids),
            DepositEvent.to_state == S.HELD.value,
            DepositEvent.from_state != S.HELD.value,
        )
        .order_by(DepositEvent.id)
    )
    # Later rows overwrite earlier ones: the latest hold wins.
    return {deposit_id: note for deposit_id, note in session.execute(query)}
