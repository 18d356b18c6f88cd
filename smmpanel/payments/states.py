"""Where a deposit stands: one state machine.

Every change of `Deposit.state` goes through `move_deposit_state`, which
refuses a move the table below does not allow and writes a deposit event with
its actor; the database refuses any other value (CHECK ``deposit_state_known``).

    created  -> pending (the gateway has the payment) | failed (it could not
                create it) | paid | held | expired | rejected | reversed
    pending  -> paid | held | failed | expired | rejected | reversed
    failed, expired -> paid | held | reversed (money received late is money
                credited, or held for the owner)
    held     -> paid (the owner approves) | rejected | reversed
    paid     -> reversed (a refund or chargeback)
    rejected, reversed: final

A reversal of a deposit never paid moves no money: it only closes the
deposit, so that a PAID arriving after it (out of order) credits nothing.
Staying in a state is not a move; callers record such events themselves
(`record_event`), so duplicates and out-of-order events leave a trace.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from smmpanel.payments.errors import DepositStateError
from smmpanel.payments.models import MAX_PAYLOAD, Deposit, DepositEvent
from smmpanel.timeutil import utcnow


class DepositState(StrEnum):
    """Stored in deposits.state and deposit events: never change a value."""

    CREATED = "created"
    PENDING = "pending"
    PAID = "paid"
    HELD = "held"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REVERSED = "reversed"


S = DepositState

ALLOWED_MOVES: dict[DepositState, frozenset[DepositState]] = {
    S.CREATED: frozenset({S.PENDING, S.FAILED, S.PAID, S.HELD, S.EXPIRED, S.REJECTED, S.REVERSED}),
    S.PENDING: frozenset({S.PAID, S.HELD, S.FAILED, S.EXPIRED, S.REJECTED, S.REVERSED}),
    S.FAILED: frozenset({S.PAID, S.HELD, S.REVERSED}),
    S.EXPIRED: frozenset({S.PAID, S.HELD, S.REVERSED}),
    S.HELD: frozenset({S.PAID, S.REJECTED, S.REVERSED}),
    S.PAID: frozenset({S.REVERSED}),
    S.REJECTED: frozenset(),
    S.REVERSED: frozenset(),
}
# States a deposit waits in for its gateway (reconciliation looks at these).
OPEN_STATES = (S.CREATED, S.PENDING)
FINAL_STATES = (S.REJECTED, S.REVERSED)


def can_move(current: str, to: DepositState) -> bool:
    return to in ALLOWED_MOVES[DepositState(current)]


def move_deposit_state(
    session: Session,
    *,
    deposit: Deposit,
    to: DepositState,
    kind: str,
    actor: str,
    event_id: str | None = None,
    payload: str = "",
    note: str = "",
) -> None:
    """Move `deposit` (locked by the caller) to `to` and record the move;
    DepositStateError, changing nothing, for a move the table refuses."""
    current = deposit.state
    if not can_move(current, to):
        raise DepositStateError(
            f"deposit {deposit.reference} is {current}: it cannot become {to.value}"
        )
    deposit.state = to.value
    deposit.updated_at = utcnow()
    record_event(
        session,
        deposit=deposit,
        from_state=current,
        kind=kind,
        actor=actor,
        event_id=event_id,
        payload=payload,
        note=note,
    )


def record_event(
    session: Session,
    *,
    deposit: Deposit,
    from_state: str | None,
    kind: str,
    actor: str,
    event_id: str | None = None,
    payload: str = "",
    note: str = "",
) -> DepositEvent:
    """One row of the deposit's history: to_state is its state now (equal to
    from_state for an event that changed nothing, e.g. a duplicate webhook)."""
    event = DepositEvent(
        deposit_id=deposit.id,
        from_state=from_state,
        to_state=deposit.state,
        kind=kind[:16],
        actor=actor[:100],
        gateway_event_id=None if event_id is None else event_id[:255],
        payload=payload[:MAX_PAYLOAD],
        note=note[:500],
        created_at=utcnow(),
    )
    session.add(event)
    return event
