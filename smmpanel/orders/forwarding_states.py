"""Where an order stands with its upstream provider: one state machine.

``Order.forward_state`` is NULL for an order the owner fulfils by hand (it
never moves) and otherwise one of `ForwardState`.  A subscription's post is
created `accepted` (it exists at the provider before it exists here); every
later change goes through
`move_forward_state`, which refuses a move the table below does not allow and
writes an order event with the actor, as ``change_order_status`` does for
statuses.  The database refuses any other value (CHECK constraint
``order_forward_state_known``).

    (none)    -> queued | parent (a drip-feed), when the order is placed
    queued    -> sending | rejected (no mapping left) | failed (its job gave
                 up) | accepted (adopted by the owner)
    sending   -> accepted | queued (refused: the next provider) | rejected |
                 reconcile (outcome unknown)
    reconcile -> sending (resent with the same request_id) | accepted | rejected
    failed    -> queued (resent by the owner) | accepted | rejected |
                 reconcile (the owner doubts it was never sent: look it up)
    accepted, rejected, parent: final

Staying in a state is not a move: it is allowed from any state, changes
nothing and writes no event (a resent forward finds its order still
`sending`, a resend by the owner finds it still `queued`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from smmpanel.orders.errors import InvalidStatusChange
from smmpanel.orders.models import ForwardState, Order, OrderEvent

__all__ = [
    "ALLOWED_MOVES",
    "ForwardState",
    "IllegalForwardTransition",
    "can_move",
    "move_forward_state",
]

S = ForwardState

# from -> the states it may move to.  None: not forwarded (yet).
ALLOWED_MOVES: dict[ForwardState | None, frozenset[ForwardState]] = {
    None: frozenset({S.QUEUED, S.PARENT}),
    # Sent; refused for want of a mapping; its job failed; adopted by the owner.
    S.QUEUED: frozenset({S.SENDING, S.REJECTED, S.FAILED, S.ACCEPTED}),
    # Answered; refused (next provider, or canceled); outcome unknown.
    S.SENDING: frozenset({S.ACCEPTED, S.QUEUED, S.REJECTED, S.RECONCILE}),
    # Resent with the same request_id; found upstream; surely not upstream.
    S.RECONCILE: frozenset({S.SENDING, S.ACCEPTED, S.REJECTED}),
    # Resent by the owner; adopted or canceled by the owner; looked up first.
    S.FAILED: frozenset({S.QUEUED, S.ACCEPTED, S.REJECTED, S.RECONCILE}),
    S.ACCEPTED: frozenset(),
    S.REJECTED: frozenset(),
    S.PARENT: frozenset(),
}


class IllegalForwardTransition(InvalidStatusChange):
    """A move of an order's forwarding state that the state machine refuses."""

    def __init__(self, order_id: int, current: str | None, to: str) -> None:
        super().__init__(
            f"order {order_id} cannot move from {current or 'not forwarded'} to {to} "
            "at its provider"
        )
        self.order_id, self.current, self.to = order_id, current, to


def can_move(current: str | None, to: ForwardState) -> bool:
    state = None if current is None else ForwardState(current)
    return to == state or to in ALLOWED_MOVES[state]


def move_forward_state(
    session: Session, *, order: Order, to: ForwardState, actor: str, reason: str | None = None
) -> bool:
    """Move `order` (loaded for change by the caller) to `to` and record the
    move as an order event; True when it moved, False when it was there
    already.  IllegalForwardTransition, changing nothing, for a refused move."""
    current = order.forward_state
    if not can_move(current, to):
        raise IllegalForwardTransition(order.id, current, to)
    if current == to:
        return False
    order.forward_state = to
    session.add(
        OrderEvent(
            order_id=order.id,
            # The status does not change; the event says so, and readers of the
            # status history leave forwarding events out (to_forward IS NULL).
            from_status=order.status,
            to_status=order.status,
            from_forward=current,
            to_forward=to,
            actor=actor[:64],
            note=(reason or "")[:500],
        )
    )
    return True
