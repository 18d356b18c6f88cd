"""Provider-backed subscriptions: one upstream order, its posts charged as they come."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from smmpanel.accounts.queries import account_balance
from smmpanel.api_v2.app import create_app
from smmpanel.client import Client
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import charge_units, from_units, to_units
from smmpanel.orders.models import Cancel, Order
from smmpanel.orders.requests import request_cancel
from smmpanel.orders.service import place_order
from smmpanel.orders.subscriptions import expire_subscriptions
from smmpanel.panel.models import Alert
from smmpanel.providers.catalog_sync import sync_prices
from smmpanel.providers.models import UpstreamService
from smmpanel.providers.status_sync import sync_statuses
from smmpanel.providers.subscription_sync import upstream_post_ids
from smmpanel.server import serve_in_thread
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.timeutil import utcnow
from tests.factories import make_customer
from tests.fulfilment.conftest import Relay, make_relay

START = to_units("100")
RATE = to_units("0.90")
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


def _upstream_posts(relay: Relay, sub_id: int) -> list[dict[str, Any]]:
    """The simulator's post orders of the subscription, oldest first."""
    upstream_sub = int(relay.get(sub_id).provider_order_id or 0)
    return sorted(relay.sim.control.orders(parent=upstream_sub), key=lambda o: o["id"])


def _cost(units: int) -> int:
    return charge_units(RATE, units)


def _entries(db: Database, account_id: int) -> list[tuple[str, int, str | None]]:
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.cause)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.kind != "topup")
            .order_by(LedgerEntry.id)
        ).all()
    return [(kind, amount, cause) for kind, amount, cause in rows]


def test_each_post_is_charged_for_the_units_it_got(subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    sub = subs.get(sub_id)
    assert (sub.forward_state, sub.charge) == ("accepted", 0)
    upstream = _upstream(subs, sub_id)
    assert (upstream["kind"], upstream["params"]["username"]) == ("subscription", "alice_ig")

    for made in (1, 2):  # one new post per sync: its units from the charge increase
        subs.sim.control.advance(INTERVAL)
        sync_statuses(subs.db, {})
        assert len(_posts(subs.db, sub_id)) == made
    subs.finish_upstream()  # the third (last) post; the subscription ends upstream
    subs.finish_upstream()  # and the posts' orders are delivered
    posts = _posts(subs.db, sub_id)
    units = [o["quantity"] for o in _upstream_posts(subs, sub_id)]
    assert [p.provider_order_id for p in posts] == [
        str(o["id"]) for o in _upstream_posts(subs, sub_id)
    ]
    assert len(units) == 3 and all(50 <= u <= 100 for u in units)
    for number, (post, got) in enumerate(zip(posts, units, strict=True), 1):
        assert (post.kind, post.run_number, post.forward_state) == ("order", number, "accepted")
        assert (post.quantity, post.total_quantity, post.remains) == (got, got, 0)
        assert (post.status, post.charge, post.refunded) == ("Completed", _cost(got), 0)
        assert (post.rate, post.provider_id) == (sub.rate, sub.provider_id)
    assert subs.get(sub_id).status == "Completed"
    assert _entries(subs.db, subs.customer.id) == [
        ("charge", -_cost(got), f"charge:order:{p.id}") for p, got in zip(posts, units, strict=True)
    ]
    assert _balance(subs) == START - sum(_cost(u) for u in units)
    assert find_balance_mismatches(subs.db) == []


def test_posts_made_together_are_settled_once(subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    subs.sim.control.advance(2 * INTERVAL + 1)  # two posts between two syncs
    sync_statuses(subs.db, {})
    posts = _posts(subs.db, sub_id)
    assert [(p.quantity, p.charge) for p in posts] == [(100, POST_CHARGE)] * 2  # at max, for now
    assert _balance(subs) == START - 2 * POST_CHARGE

    sync_statuses(subs.db, {})  # each post's own status tells what it cost upstream
    sync_statuses(subs.db, {})  # and a second look settles nothing again
    units = [o["quantity"] for o in _upstream_posts(subs, sub_id)]
    posts = _posts(subs.db, sub_id)
    assert [(p.quantity, p.charge - p.refunded) for p in posts] == [(u, _cost(u)) for u in units]
    assert _entries(subs.db, subs.customer.id) == [
        *[("charge", -POST_CHARGE, f"charge:order:{p.id}") for p in posts],
        *[
            ("refund", POST_CHARGE - _cost(u), f"settle:order:{p.id}")
            for p, u in zip(posts, units, strict=True)
            if u < 100
        ],
    ]
    assert _balance(subs) == START - sum(_cost(u) for u in units)
    assert find_balance_mismatches(subs.db) == []


def test_a_partial_post_is_settled_then_refunded_its_remains(subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    subs.sim.control.advance(2 * INTERVAL + 1)
    sync_statuses(subs.db, {})
    first = _upstream_posts(subs, sub_id)[0]
    subs.sim.control.set_status(order=first["id"], status="Partial", remains=20)
    sync_statuses(subs.db, {})  # settled and Partial in one go
    post = _posts(subs.db, sub_id)[0]
    assert (post.status, post.quantity, post.remains) == ("Partial", first["quantity"], 20)
    assert post.charge - post.refunded == _cost(first["quantity"]) - _cost(20)
    assert find_balance_mismatches(subs.db) == []


def test_posts_stay_at_max_with_an_alert_while_the_rate_is_unknown(subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    with subs.db.write() as session:  # the provider's catalog was never read
        session.execute(delete(UpstreamService))
    subs.sim.control.advance(INTERVAL + 1)
    sync_statuses(subs.db, {})
    sync_statuses(subs.db, {})
    [post] = _posts(subs.db, sub_id)
    assert (post.quantity, post.charge, post.refunded) == (100, POST_CHARGE, 0)
    with subs.db.read() as session:
        alerts = session.execute(select(Alert.kind, Alert.subject)).all()
    assert [tuple(a) for a in alerts] == [("post_not_settled", f"order {sub_id}")]
    sync_prices(subs.db)  # the rate is known again: the next sync settles the post
    sync_statuses(subs.db, {})
    [got] = [o["quantity"] for o in _upstream_posts(subs, sub_id)]
    [post] = _posts(subs.db, sub_id)
    assert (post.quantity, post.charge - post.refunded) == (got, _cost(got))


def test_subscription_status_reports_what_its_posts_cost(db: Database, subs: Relay) -> None:
    sub_id = _subscribe(subs)
    subs.run()
    subs.sim.control.advance(2 * INTERVAL + 1)
    sync_statuses(db, {})
    with serve_in_thread(create_app(db)) as url, Client(f"{url}/api/v2", subs.customer.key) as api:
        assert api.status(sub_id).charge == from_units(2 * POST_CHARGE)  # charged at max so far
        first, second = _upstream_posts(subs, sub_id)
        subs.sim.control.set_status(order=first["id"], status="Canceled")
        sync_statuses(db, {})  # the first post refunded whole, the second settled
        assert _posts(db, sub_id)[0].status == "Canceled"
        assert api.status(sub_id).charge == from_units(_cost(second["quantity"]))
        [many] = api.statuses([sub_id])
        assert many.charge == from_units(_cost(second["quantity"]))
    assert find_balance_mismatches(db) == []


def test_insufficient_balance_stops_the_subscription(db: Database, subs: Relay) -> None:
    poor = dataclasses.replace(subs, customer=make_customer(db, "bob", balance="0.15"))
    sub_id = _subscribe(poor)
    poor.run()
    poor.sim.control.advance(2 * INTERVAL + 1)
    sync_statuses(db, {})
    posts = _posts(db, sub_id)  # charged at max: the second one did not fit
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
    first_units = _upstream_posts(poor, sub_id)[0]["quantity"]
    assert _balance(poor) == to_units("0.15") - _cost(first_units)  # the first was settled
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
