"""One batch of upstream answers: orders whose answer repeats what they show get
only their checked-at stamp; every other order moves exactly as before."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select, update

from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.ledger.models import LedgerEntry
from smmpanel.money import to_units
from smmpanel.orders.models import Cancel, Order, OrderEvent
from smmpanel.orders.requests import request_cancel
from smmpanel.orders.webhooks import WEBHOOK_JOB, set_webhook
from smmpanel.panel.alerts import raise_alert
from smmpanel.panel.models import Alert
from smmpanel.providers.status_sync import apply_upstream_statuses
from smmpanel.providers.upstream import UpstreamOrderStatus as Answer
from smmpanel.timeutil import as_utc
from tests.factories import make_customer, make_order, make_service


def _orders(db: Database, count: int) -> list[int]:
    customer = make_customer(db, balance="10")
    service_id = make_service(db)  # 0.90 per 1000: 0.09 an order of 100
    return [make_order(db, customer, service_id, link=f"https://x.com/{n}") for n in range(count)]


def _state(db: Database) -> dict[int, tuple[str, int, int | None, int, datetime, bool]]:
    """status, remains, start count, events, updated_at, checked, by order id."""
    with db.read() as session:
        events = dict(
            session.execute(
                select(OrderEvent.order_id, func.count()).group_by(OrderEvent.order_id)
            ).all()
        )
        return {
            o.id: (
                o.status,
                o.remains,
                o.start_count,
                events.get(o.id, 0),
                o.updated_at,
                o.synced_at is not None,
            )
            for o in session.scalars(select(Order))
        }


def _refunds(db: Database) -> dict[int | None, int]:
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.order_id, LedgerEntry.amount).where(LedgerEntry.kind == "refund")
        )
        return dict(rows.all())


def test_a_mixed_batch_changes_only_the_orders_whose_answer_is_new(db: Database) -> None:
    ids = _orders(db, 6)
    batch = [(oid, str(1000 + oid)) for oid in ids]
    answers = [
        Answer(1000 + ids[0], status="Pending", remains=100),  # what it shows already
        Answer(1000 + ids[1], status="In progress", start_count=50, remains=80),
        Answer(1000 + ids[2], status="Partial", remains=40),
        Answer(1000 + ids[3], error="Incorrect order ID"),
        Answer(1000 + ids[4], status="Pending", start_count=0),  # a first start count
        # ids[5]: no answer at all
    ]
    before = _state(db)
    assert apply_upstream_statuses(db, provider_name="up", batch=batch, results=answers) == 3
    after = _state(db)
    for untouched in (ids[0], ids[3], ids[5]):
        assert after[untouched][:5] == before[untouched][:5]  # not even updated_at moved
    assert after[ids[1]][:4] == ("In progress", 80, 50, 2)
    assert after[ids[2]][:4] == ("Partial", 40, None, 2)
    assert after[ids[4]][:4] == ("Pending", 100, 0, 2)
    assert all(checked for *_, checked in after.values())  # every order of the batch
    assert _refunds(db) == {ids[2]: to_units("0.036")}  # 40 of 100 units of 0.09

    # The same answers again change nothing (a final order repeating its status too).
    assert apply_upstream_statuses(db, provider_name="up", batch=batch, results=answers) == 0
    assert {k: v[:5] for k, v in _state(db).items()} == {k: v[:5] for k, v in after.items()}

    # Unknown remains keep the last known; Partial with nothing left is Completed.
    again = [
        Answer(1000 + ids[1], status="In progress"),
        Answer(1000 + ids[4], status="Partial", remains=0),
    ]
    assert apply_upstream_statuses(db, provider_name="up", batch=batch, results=again) == 1
    final = _state(db)
    assert final[ids[1]][:4] == ("In progress", 80, 50, 2)
    assert final[ids[4]][:4] == ("Completed", 0, 0, 3)
    assert _refunds(db) == {ids[2]: to_units("0.036")}


def test_changes_that_move_no_money_keep_every_rule_of_the_status_change(db: Database) -> None:
    """Plain changes (no refund, no hook) are applied together, in bulk: the same
    rows, events, alerts, cancels and webhooks as the status change one by one."""
    alice = make_customer(db, balance="10")
    service_id = make_service(db, cancel=True)
    a, b, c, d = (make_order(db, alice, service_id, link=f"https://x.com/{n}") for n in range(4))
    bob = make_customer(db, "bob", balance="10")
    e = make_order(db, bob, service_id, link="https://x.com/bob")
    set_webhook(db, username="bob", url="http://127.0.0.1:9/hook")
    request_cancel(db, account_id=alice.id, order_id=b)
    with db.write() as session:
        raise_alert(session, kind="order_stuck", subject=f"order {b}", message="stuck")
        raise_alert(session, kind="order_stuck", subject=f"order {a}", message="stuck")
        session.execute(update(Order).where(Order.id == a).values(stale=True))
    batch = [(oid, str(1000 + oid)) for oid in (a, b, c, d, e)]
    answers = [
        Answer(1000 + a, status="In progress", start_count=10, remains=80),
        Answer(1000 + b, status="Completed", start_count=5, remains=7),
        Answer(1000 + c, status="Canceled"),
        Answer(1000 + d, status="Pending", start_count=-1),  # refused, logged
        Answer(1000 + e, status="In progress", start_count=3),
    ]
    before = _state(db)
    assert apply_upstream_statuses(db, provider_name="up", batch=batch, results=answers) == 4
    after = _state(db)
    assert after[a][:4] == ("In progress", 80, 10, 2)
    assert after[b][:4] == ("Completed", 0, 5, 2)
    assert after[c][:4] == ("Canceled", 100, None, 2)
    assert after[d][:5] == before[d][:5]
    assert after[e][:4] == ("In progress", 100, 3, 2)
    assert all(after[o][4] > before[o][4] for o in (a, b, c, e))  # updated_at moved
    assert _refunds(db) == {c: to_units("0.09")}  # the whole charge, once
    with db.read() as session:
        orders = {o.id: o for o in session.scalars(select(Order))}
        assert not orders[a].stale and orders[a].completed_at is None
        assert orders[a].active_link is not None
        assert orders[b].completed_at is not None and orders[b].active_link is None
        event = session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == b).order_by(OrderEvent.id.desc())
        ).first()
        assert event is not None
        assert (event.from_status, event.to_status, event.start_count, event.remains) == (
            "Pending",
            "Completed",
            5,
            0,
        )
        assert (event.actor, event.note) == ("provider:up", "")
        # The order delivered: its pending cancel is rejected, its alert resolved.
        cancel = session.scalars(select(Cancel).where(Cancel.order_id == b)).one()
        assert (cancel.status, cancel.open_order_id) == ("Rejected", None)
        alerts = dict(session.execute(select(Alert.subject, Alert.resolved_at)).all())
        assert alerts[f"order {b}"] is not None and alerts[f"order {a}"] is None
        # Only bob has a webhook: one delivery, for his order's change, as
        # change_order_status queues it (the event numbered after his 2 events).
        hook = session.scalars(select(Job).where(Job.kind == WEBHOOK_JOB)).one()
        changed_at = as_utc(orders[e].updated_at)
        assert (hook.status, hook.max_attempts) == ("queued", 10)
        assert hook.payload == {
            "account_id": bob.id,
            "event": "order.status",
            "event_id": f"order-{e}-2",
            "timestamp": int(changed_at.timestamp()),
            "body": hook.payload["body"],
        }
        assert json.loads(hook.payload["body"]) == {
            "id": f"order-{e}-2",
            "event": "order.status",
            "order": e,
            "status": "In progress",
            "charge": "0.09000",
            "start_count": "3",
            "remains": "100",
            "currency": "USD",
            "timestamp": changed_at.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        }
