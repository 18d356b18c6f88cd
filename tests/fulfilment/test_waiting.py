"""Orders waiting on a provider wait as long as it takes, show in a list, raise
an alert past a threshold and go at once on `providers resume`; an order whose
forward job truly failed is listed as stuck, can be resent, or canceled and
refunded.  Time moves by editing `run_at` and `waiting_since`, never by sleeping."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from smmpanel.accounts.queries import account_balance
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.models import Cancel, Order
from smmpanel.orders.requests import request_cancel
from smmpanel.panel.models import Alert
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.server import free_port
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.timeutil import as_utc, utcnow
from smmpanel.worker import build_worker
from tests.cli.conftest import invoke
from tests.fulfilment.conftest import Relay, make_relay

START = to_units("100")
CHARGE_100 = to_units("0.09")  # 100 x 0.90 / 1000


def _smmpanel(db: Database, *args: str) -> str:
    result = invoke(["--database-url", db.url, *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def _job(db: Database, order_id: int) -> Job:
    with db.read() as session:
        job = session.scalars(
            select(Job).where(Job.kind == "forward_order").order_by(Job.id.desc())
        ).first()
        assert job is not None and job.payload == {"order_id": order_id}
        return job


def _job_values(db: Database, order_id: int, **values: Any) -> None:
    """Change the order's forward job (e.g. `run_at`: make it due now)."""
    with db.write() as session:
        session.execute(update(Job).where(Job.id == _job(db, order_id).id).values(**values))


def _waited(db: Database, order_id: int, minutes: float) -> None:
    """Pretend the order has waited this long, and make its next try due now."""
    with db.write() as session:
        session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(waiting_since=utcnow() - timedelta(minutes=minutes))
        )
    _job_values(db, order_id, run_at=utcnow())


def _alerts(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(Alert.kind, Alert.subject).where(Alert.resolved_at.is_(None)).order_by(Alert.id)
        ).all()
    return [(kind, subject) for kind, subject in rows]


def _provider_url(db: Database, name: str, url: str) -> None:
    with db.write() as session:
        session.execute(update(Provider).where(Provider.name == name).values(api_url=url))


def _closed_port_url() -> str:
    """An API URL on 127.0.0.1 where nothing listens: connection refused."""
    return f"http://127.0.0.1:{free_port()}/api/v2"


def test_order_waits_for_a_paused_provider_and_goes_on_resume(relay: Relay) -> None:
    relay.sim.control.add_fault("no_funds", variant="key", count=1)
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "queued")
    assert order.waiting_since is not None and "paused: sim" in order.forward_error
    assert _alerts(relay.db) == [("provider_paused", "sim")]

    # Its job is on its last attempt: waiting on a paused provider spends none.
    _job_values(relay.db, order_id, attempts=7, run_at=utcnow())
    for _ in range(3):
        relay.run()
        _job_values(relay.db, order_id, run_at=utcnow())
    job = _job(relay.db, order_id)
    assert (job.status, job.attempts) == ("queued", 7)
    assert relay.get(order_id).forward_state == "queued"

    listed = json.loads(_smmpanel(relay.db, "orders", "list", "--waiting", "--json"))
    assert [(o["id"], o["forwarding"]["state"]) for o in listed] == [(order_id, "queued")]
    assert "paused: sim" in listed[0]["forwarding"]["problem"]
    assert str(order_id) in _smmpanel(relay.db, "orders", "list", "--waiting")

    _waited(relay.db, order_id, minutes=61)  # past SMMPANEL_ORDER_WAIT_ALERT_MINUTES (60)
    relay.run()
    assert _alerts(relay.db) == [("provider_paused", "sim"), ("orders_waiting", "forwarding")]

    _job_values(relay.db, order_id, run_at=utcnow() + timedelta(minutes=5))
    assert "1 waiting orders are sent now" in _smmpanel(relay.db, "providers", "resume", "sim")
    assert as_utc(_job(relay.db, order_id).run_at) <= utcnow()  # due at once
    relay.run()
    order = relay.get(order_id)
    assert (order.forward_state, order.waiting_since, order.forward_error) == ("accepted", None, "")
    assert len(relay.sim.control.orders()) == 1
    assert account_balance(relay.db, relay.customer.id)[0] == START - CHARGE_100
    assert json.loads(_smmpanel(relay.db, "orders", "list", "--waiting", "--json")) == []


def test_wait_alert_threshold_is_a_setting(db: Database, sim: RunningSimulator) -> None:
    """A few seconds: every try of the refused provider costs the SDK's retries."""
    relay = make_relay(db, sim)
    relay.worker = build_worker(db, name="w1", settings=Settings(order_wait_alert_minutes=5))
    _provider_url(db, "sim", _closed_port_url())
    order_id = relay.order()
    relay.run()
    _waited(db, order_id, minutes=4)
    relay.run()
    assert _alerts(db) == []
    _waited(db, order_id, minutes=6)
    relay.run()
    assert _alerts(db) == [("orders_waiting", "forwarding")]
    with db.read() as session:
        message = session.scalars(select(Alert.message)).one()
    assert "over 5 minutes" in message and f"order {order_id}" in message


def test_order_waits_for_an_unreachable_provider_with_a_capped_backoff(
    db: Database, sim: RunningSimulator
) -> None:
    """A few seconds: every try of the refused provider costs the SDK's retries."""
    relay = make_relay(db, sim)
    _provider_url(db, "sim", _closed_port_url())
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.forward_state, order.forward_error) == (
        "queued",
        "no provider can take it now (unreachable: sim)",
    )
    _job_values(db, order_id, attempts=7)
    _waited(db, order_id, minutes=600)  # ten hours: the retry is at most 5 minutes away
    relay.run()
    job = _job(db, order_id)
    assert (job.status, job.attempts) == ("queued", 7)
    wait = (as_utc(job.run_at) - utcnow()).total_seconds()
    assert 250 < wait <= 300
    with db.read() as session:
        outcomes = session.scalars(select(ProviderOrderRecord.outcome)).all()
    assert outcomes == ["unreachable", "unreachable"]

    _provider_url(db, "sim", sim.api_url)  # it answers again
    _job_values(db, order_id, run_at=utcnow())
    relay.run()
    assert relay.get(order_id).forward_state == "accepted"
    assert len(sim.control.orders()) == 1


def _break(db: Database, order_id: int) -> None:
    """Give the order parameters the forwarder cannot build a request from: any
    error that is not the provider's makes its forward job fail."""
    with db.write() as session:
        session.execute(
            update(Order).where(Order.id == order_id).values(params={"expiry": "garbage"})
        )
    _job_values(db, order_id, attempts=7)  # its last attempt comes next


def test_failed_forward_is_listed_stuck_and_can_be_resent(relay: Relay) -> None:
    order_id = relay.order()
    _break(relay.db, order_id)
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "failed")
    assert "ValueError" in order.forward_error
    assert _job(relay.db, order_id).status == "failed"
    assert _alerts(relay.db) == [("order_stuck", f"order {order_id}")]
    listed = json.loads(_smmpanel(relay.db, "orders", "list", "--stuck", "--json"))
    assert [(o["id"], o["forwarding"]["state"]) for o in listed] == [(order_id, "failed")]

    with relay.db.write() as session:  # the owner fixes what was wrong
        session.execute(update(Order).where(Order.id == order_id).values(params={}))
    assert "queued for forwarding" in _smmpanel(relay.db, "orders", "resend", str(order_id))
    relay.run()
    assert relay.get(order_id).forward_state == "accepted"
    assert _alerts(relay.db) == []  # resolved by the resend
    assert json.loads(_smmpanel(relay.db, "orders", "list", "--stuck", "--json")) == []
    assert len(relay.sim.control.orders()) == 1


def test_failed_forward_can_be_canceled_and_refunded(relay: Relay) -> None:
    order_id = relay.order()
    _break(relay.db, order_id)
    relay.run()
    assert relay.get(order_id).forward_state == "failed"
    assert ("order_stuck", f"order {order_id}") in _alerts(relay.db)
    out = _smmpanel(relay.db, "orders", "update", str(order_id), "--status", "canceled")
    assert out.splitlines()[0] == "refunded 0.09000 USD to alice"
    assert relay.get(order_id).status == "Canceled"
    # Nothing waits on the owner any more: the order's alert is dealt with.
    assert ("order_stuck", f"order {order_id}") not in _alerts(relay.db)
    assert account_balance(relay.db, relay.customer.id)[0] == START
    resend = invoke(["--database-url", relay.db.url, "orders", "resend", str(order_id)])
    assert resend.exit_code == 1 and "Canceled: nothing to send" in resend.stderr
    assert relay.sim.control.orders() == []
    assert find_balance_mismatches(relay.db) == []


def test_customer_cancel_of_a_failed_order_is_immediate(
    db: Database, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim, cancel=True)
    order_id = relay.order()
    _break(db, order_id)
    relay.run()
    assert relay.get(order_id).forward_state == "failed"
    cancel_id, _kind = request_cancel(db, account_id=relay.customer.id, order_id=order_id)
    assert relay.get(order_id).status == "Canceled"
    with db.read() as session:
        cancel = session.get(Cancel, cancel_id)
        assert cancel is not None and cancel.status == "Completed"
    assert account_balance(db, relay.customer.id)[0] == START
    relay.run()
    assert relay.sim.control.orders() == [] and relay.sim.control.cancels() == []


def test_failed_send_that_may_have_arrived_is_reconciled(
    db: Database, sim: RunningSimulator
) -> None:
    """Takes ~3 s: three 1-second timeouts of the held answer."""
    relay = make_relay(db, sim, dialect={"request_id": True})
    sim.control.add_fault("timeout", variant="hold", seconds=3, count=3)
    order_id = relay.order()
    _job_values(db, order_id, attempts=7)
    relay.run()  # times out, fails, is reconciled: resent with the same request_id
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "accepted")
    assert [o["id"] for o in sim.control.orders()] == [int(order.provider_order_id or 0)]
    assert ("order_stuck", f"order {order_id}") in _alerts(db)
