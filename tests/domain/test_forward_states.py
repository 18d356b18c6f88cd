"""The forwarding state machine: every allowed move succeeds and is recorded
with its actor; every other (from, to) pair is refused and changes nothing;
the database refuses a state it does not know."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from smmpanel.db import Database
from smmpanel.orders.forwarding_states import (
    ALLOWED_MOVES,
    ForwardState,
    IllegalForwardTransition,
    move_forward_state,
)
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.orders.queries import order_events
from smmpanel.orders.service import place_order, update_order
from tests.factories import make_customer, make_service

FROM_STATES: list[ForwardState | None] = [None, *ForwardState]
PAIRS = list(itertools.product(FROM_STATES, list(ForwardState)))
ALLOWED = [(a, b) for a, b in PAIRS if b in ALLOWED_MOVES[a]]
REFUSED = [(a, b) for a, b in PAIRS if b not in ALLOWED_MOVES[a] and a != b]


@pytest.fixture
def order_id(db: Database) -> int:
    customer = make_customer(db)
    service = make_service(db)  # no upstream source: the order is not forwarded
    params = {"link": "https://x.com/a", "quantity": "100"}
    return place_order(db, account_id=customer.id, service_id=service, params=params).order_id


def _put(db: Database, order_id: int, state: ForwardState | None) -> None:
    """Set up a state directly (what the move function guards is tested here)."""
    with db.write() as session:
        session.execute(update(Order).where(Order.id == order_id).values(forward_state=state))


def _forward_events(db: Database, order_id: int) -> list[tuple[str | None, str | None, str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(
                OrderEvent.from_forward, OrderEvent.to_forward, OrderEvent.actor, OrderEvent.note
            )
            .where(OrderEvent.order_id == order_id, OrderEvent.to_forward.is_not(None))
            .order_by(OrderEvent.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def _state(db: Database, order_id: int) -> str | None:
    with db.read() as session:
        return session.scalar(select(Order.forward_state).where(Order.id == order_id))


def test_the_table_covers_every_state_and_never_targets_none() -> None:
    assert set(ALLOWED_MOVES) == set(FROM_STATES)
    assert all(None not in targets for targets in ALLOWED_MOVES.values())
    assert len(ALLOWED) == 17 and len(REFUSED) == len(PAIRS) - 17 - len(ForwardState)


def test_every_allowed_move_is_made_and_recorded_with_its_actor(
    db: Database, order_id: int
) -> None:
    for current, to in ALLOWED:
        _put(db, order_id, current)
        before = len(_forward_events(db, order_id))
        with db.write() as session:
            order = session.get(Order, order_id)
            assert order is not None
            actor = f"test {current}->{to}"
            assert move_forward_state(session, order=order, to=to, actor=actor, reason="why")
        assert _state(db, order_id) == to
        events = _forward_events(db, order_id)
        assert len(events) == before + 1
        assert events[-1] == (current, to, actor, "why")


def test_every_refused_move_raises_and_changes_nothing(db: Database, order_id: int) -> None:
    for current, to in REFUSED:
        _put(db, order_id, current)
        with db.write() as session:
            order = session.get(Order, order_id)
            assert order is not None
            with pytest.raises(IllegalForwardTransition) as refused:
                move_forward_state(session, order=order, to=to, actor="test")
            assert order.forward_state == current  # not even in memory
            assert (refused.value.current, refused.value.to) == (current, to)
        assert _state(db, order_id) == current
    assert _forward_events(db, order_id) == []


def test_staying_in_a_state_is_no_move_and_no_event(db: Database, order_id: int) -> None:
    for state in ForwardState:
        _put(db, order_id, state)
        with db.write() as session:
            order = session.get(Order, order_id)
            assert order is not None
            assert move_forward_state(session, order=order, to=state, actor="test") is False
        assert _state(db, order_id) == state
    assert _forward_events(db, order_id) == []


def test_the_status_history_leaves_forwarding_moves_out(db: Database, order_id: int) -> None:
    with db.write() as session:
        order = session.get(Order, order_id)
        assert order is not None
        move_forward_state(session, order=order, to=ForwardState.QUEUED, actor="test")
        move_forward_state(session, order=order, to=ForwardState.SENDING, actor="test")
    update_order(db, order_id=order_id, status="In progress")
    history = [(e.from_status, e.to_status) for e in order_events(db, order_id)]
    assert history == [(None, "Pending"), ("Pending", "In progress")]
    assert [e[:2] for e in _forward_events(db, order_id)] == [
        (None, "queued"),
        ("queued", "sending"),
    ]


def test_the_database_refuses_an_unknown_state(db: Database, order_id: int) -> None:
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(
            text("UPDATE orders SET forward_state = 'lost' WHERE id = :id"), {"id": order_id}
        )
    assert _state(db, order_id) is None
