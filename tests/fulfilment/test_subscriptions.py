"""Provider-backed subscriptions: one upstream order, its posts charged as they come."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.jobs.models import Alert
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.models import Cancel, Order
from smmpanel.orders.requests import request_cancel
from smmpanel.orders.service import place_order
from smmpanel.providers.status_sync import sync_statuses
from smmpanel.providers.subscriptions import expire_subscriptions, upstream_post_ids
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.timeutil import utcnow
from tests.factories import make_customer
from tests.fulfilment.conftest import Relay, make_relay

START = to_units("100")
POST_CHARGE = to_units("0.09")  # max 100 x 0.90 / 1000
INTERVAL = 600  # the simulator's seconds between new posts


@pytest.fixture
def subs(db: Database, sim: RunningSimulator) -> Relay:
    return make_relay(
        db,
        sim,
        upstream_service="21",
        type="Subscriptions",
        min_quantity=50,
        max_quantity=5000,
        cancel=True,
    )


def _subscribe(relay: Relay, **extra: str) -> int:
    params = {"username": "alice_ig", "min": "50", "max": "100", "posts": "3", **extra}
    placed = place_order(
        relay.db, account_id=relay.customer.id, service_id=relay.service_id, params=params
    )
    return placed.order_id


def _posts(db: Database, sub_id: int) -> list[Order]:
    with db.read() as session:
        return list(
            session.scalars(select(Order).where(Order.parent_id == sub_id).order_by(Order.id))
        )


def _balance(relay: Relay) -> int:
    return account_balance(relay.db, relay.customer.id)[0]


def _cancels(db: Database, sub_id: int) -> list[tuple[str, str | None]]:
    with db.read() as session:
        rows = session.execute(
            select(Cancel.status, Cancel.forward_state)
            .where(Cancel.order_id == sub_id)
            .order_by(Cancel.id)
        )
        return [(status, state) for status, state in rows]


def _upstream(relay: Relay, sub_id: int) -> dict[str, Any]:
    return relay.sim.control.order(int(relay.get(sub_id).provider_order_id or 0))


def test_posts_become_charged_child_orders(subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    sub = subs.get(sub_id)
    assert (sub.forward_state, sub.charge) == ("accepted", 0)
    upstream = _upstream(subs, sub_id)
    assert (upstream["kind"], upstream["params"]["username"]) == ("subscription", "alice_ig")

    subs.sim.control.advance(2 * INTERVAL + 1)  # two posts so far
    sync_statuses(subs.db, {})
    posts = _posts(subs.db, sub_id)
    upstream_children = [str(i) for i in _upstream(subs, sub_id)["children"]]
    assert [p.provider_order_id for p in posts] == upstream_children and len(posts) == 2
    for number, post in enumerate(posts, 1):
        assert (post.kind, post.run_number, post.forward_state) == ("order", number, "accepted")
        assert (post.quantity, post.total_quantity, post.remains) == (100, 100, 100)
        assert (post.charge, post.rate, post.provider_id) == (
            POST_CHARGE,
            sub.rate,
            sub.provider_id,
        )
    assert subs.get(sub_id).status == "In progress"
    assert _balance(subs) == START - 2 * POST_CHARGE

    subs.finish_upstream()  # the third (last) post; the subscription ends upstream
    subs.finish_upstream()  # and the third post's order is delivered
    posts = _posts(subs.db, sub_id)
    assert [(p.status, p.remains, p.charge) for p in posts] == [("Completed", 0, POST_CHARGE)] * 3
    assert subs.get(sub_id).status == "Completed"
    with subs.db.read() as session:
        entries = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.cause)
            .where(LedgerEntry.account_id == subs.customer.id, LedgerEntry.kind != "topup")
            .order_by(LedgerEntry.id)
        ).all()
    assert [tuple(e) for e in entries] == [
        ("charge", -POST_CHARGE, f"charge:order:{p.id}") for p in posts
    ]
    assert _balance(subs) == START - 3 * POST_CHARGE
    assert find_balance_mismatches(subs.db) == []


def test_insufficient_balance_stops_the_subscription(db: Database, subs: Relay) -> None:
    poor = dataclasses.replace(subs, customer=make_customer(db, "bob", balance="0.15"))
    sub_id = _subscribe(poor)
    poor.run()
    poor.sim.control.advance(2 * INTERVAL + 1)
    sync_statuses(db, {})
    posts = _posts(db, sub_id)
    assert [(p.status, p.charge) for p in posts] == [("Pending", POST_CHARGE), ("Canceled", 0)]
    assert _balance(poor) == to_units("0.15") - POST_CHARGE
    assert _cancels(db, sub_id) == [("Pending", "queued")]
    with db.read() as session:
        alerts = session.execute(select(Alert.kind, Alert.subject)).all()
    assert [tuple(a) for a in alerts] == [("subscription_stopped", f"order {sub_id}")]

    poor.run()  # the cancel goes upstream
    assert [c["order"] for c in poor.sim.control.cancels()] == [
        int(poor.get(sub_id).provider_order_id or 0)
    ]
    poor.finish_upstream()
    poor.finish_upstream()
    assert poor.get(sub_id).status == "Canceled"
    assert _cancels(db, sub_id) == [("Completed", "accepted")]
    assert len(_posts(db, sub_id)) == 2  # no post after the cancel
    assert _balance(poor) == to_units("0.15") - POST_CHARGE
    assert find_balance_mismatches(db) == []


def test_expired_subscription_is_canceled_upstream(subs: Relay) -> None:
    in_a_month = (utcnow().date() + timedelta(days=30)).strftime("%d/%m/%Y")
    sub_id = _subscribe(subs, expiry=in_a_month)
    other_id = _subscribe(subs, username="bob_ig", expiry=in_a_month)
    subs.run()
    assert subs.sim.control.order(int(subs.get(sub_id).provider_order_id or 0))["params"]
    assert expire_subscriptions(subs.db) == []  # not expired yet
    with subs.db.write() as session:  # time passes: the expiry date is behind us
        sub = session.get(Order, sub_id)
        assert sub is not None
        sub.params = {**sub.params, "expiry": (utcnow().date() - timedelta(days=1)).isoformat()}
    assert expire_subscriptions(subs.db) == [sub_id]
    assert expire_subscriptions(subs.db) == []  # the cancel is pending: once
    subs.run()
    subs.finish_upstream(60)  # the cancel resolves upstream; no post is due yet
    assert subs.get(sub_id).status == "Canceled"
    assert _cancels(subs.db, sub_id) == [("Completed", "accepted")]
    assert subs.get(other_id).status == "In progress"
    assert _cancels(subs.db, other_id) == []
    assert expire_subscriptions(subs.db) == []
    assert find_balance_mismatches(subs.db) == []


def test_customer_cancel_cancels_upstream(subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    cancel_id, kind = request_cancel(subs.db, account_id=subs.customer.id, order_id=sub_id)
    assert kind == "subscription"
    subs.run()
    subs.finish_upstream()
    assert _upstream(subs, sub_id)["status"] == "Canceled"
    assert subs.get(sub_id).status == "Canceled"
    with subs.db.read() as session:
        cancel = session.get(Cancel, cancel_id)
        assert cancel is not None and cancel.status == "Completed"
    assert _posts(subs.db, sub_id) == []
    assert _balance(subs) == START


def test_upstream_post_ids_are_read_leniently() -> None:
    assert upstream_post_ids({"orders": [3, "4", " 5 ", 3, "x"]}) == ["3", "4", "5"]
    assert upstream_post_ids({"orders": "7, 8"}) == ["7", "8"]
    assert upstream_post_ids({"orders": None}) == [] == upstream_post_ids({})
