"""Forwarding through the state machine, end to end against the simulator:
each move of a forwarded order is an event with its actor, and a move the
machine refuses leaves the order as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smmpanel.audit.models import Actor
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.forwarding_states import IllegalForwardTransition
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.panel.alerts import raise_alert
from smmpanel.panel.models import Alert
from smmpanel.providers import forwarding
from smmpanel.providers.models import ProviderOrderRecord
from smmpanel.providers.reconcile import adopt_upstream_order, cancel_unforwarded_order
from tests.fulfilment.conftest import Relay


def _moves(relay: Relay, order_id: int) -> list[tuple[str | None, str | None, str]]:
    with relay.db.read() as session:
        rows = session.execute(
            select(OrderEvent.from_forward, OrderEvent.to_forward, OrderEvent.actor)
            .where(OrderEvent.order_id == order_id, OrderEvent.to_forward.is_not(None))
            .order_by(OrderEvent.id)
        )
        return [(a, b, c) for a, b, c in rows]


def test_a_forwarded_order_records_each_move(relay: Relay) -> None:
    order_id = relay.order()
    relay.run()
    assert _moves(relay, order_id) == [
        (None, "queued", "forwarding"),
        ("queued", "sending", "forwarding"),
        ("sending", "accepted", "forwarding"),
    ]


def test_an_accepted_order_cannot_be_canceled_as_never_sent(relay: Relay) -> None:
    order_id = relay.order()
    relay.run()
    with pytest.raises(IllegalForwardTransition):
        cancel_unforwarded_order(
            relay.db, order_id=order_id, why="the owner found none", actor=Actor.cli()
        )
    order = relay.get(order_id)
    assert (order.status, order.forward_state, order.refunded) == ("Pending", "accepted", 0)
    assert _moves(relay, order_id)[-1] == ("sending", "accepted", "forwarding")


def test_an_order_not_forwarded_cannot_be_adopted(relay: Relay) -> None:
    order_id = relay.order()  # queued: may be adopted by the owner
    with relay.db.write() as session:
        order = session.get(Order, order_id)
        assert order is not None
        order.forward_state = None  # as an order of a manual service
    with pytest.raises(IllegalForwardTransition):
        adopt_upstream_order(
            relay.db, order_id=order_id, upstream_order_id="999", actor=Actor.cli()
        )
    order = relay.get(order_id)
    assert (order.forward_state, order.provider_order_id) == (None, None)


def test_an_answer_after_the_owner_canceled_is_kept_but_moves_nothing(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = relay.order()

    def owner_cancels_meanwhile(name: str) -> None:
        if name == "forward:after_send":
            cancel_unforwarded_order(
                relay.db, order_id=order_id, why="the owner gave up", actor=Actor("cli", "owner")
            )

    monkeypatch.setattr(forwarding, "crash_point", owner_cancels_meanwhile)
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state, order.provider_order_id) == (
        "Canceled",
        "rejected",
        None,
    )
    assert order.refunded == order.charge > 0
    with relay.db.read() as session:
        calls = list(session.scalars(select(ProviderOrderRecord.detail)))
    assert calls == ["upstream order 1, after the order was rejected"]
    assert _moves(relay, order_id)[-1] == ("sending", "rejected", "cli:owner")
    assert find_balance_mismatches(relay.db) == []


def test_adopting_an_order_resolves_its_reconciliation_alert(relay: Relay) -> None:
    order_id = relay.order()  # queued: may be adopted by the owner
    with relay.db.write() as session:  # as reconciliation leaves it for the owner
        raise_alert(session, kind="reconcile", subject=f"order {order_id}", message="check it")
        raise_alert(session, kind="reconcile", subject="order 999999", message="another")
    adopt_upstream_order(relay.db, order_id=order_id, upstream_order_id="77", actor=Actor.cli())
    with relay.db.read() as session:
        open_alerts = session.scalars(
            select(Alert.subject).where(Alert.resolved_at.is_(None))
        ).all()
    assert list(open_alerts) == ["order 999999"]
