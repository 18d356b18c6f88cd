"""Provider-backed drip-feed: each run is one upstream order, made at its time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.dripfeed import dripfeed_runs
from smmpanel.orders.errors import InvalidStatusChange
from smmpanel.orders.models import Cancel, Order
from smmpanel.orders.requests import request_cancel, resolve_cancel
from smmpanel.orders.service import place_order
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.timeutil import as_utc, utcnow
from tests.factories import make_service
from tests.fulfilment.conftest import Relay, make_relay

START = to_units("100")
RATE = to_units("0.90")
CHARGE_300 = to_units("0.27")  # 3 runs x 100 x 0.90 / 1000
LINK = "https://x.com/drip"


@pytest.fixture
def drip(db: Database, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> Relay:
    # The drip-feed schedule fires on every worker pass, so relay.run() makes due runs.
    monkeypatch.setenv("SMMPANEL_DRIPFEED_SECONDS", "0")
    return make_relay(db, sim, dripfeed=True)


def _place(relay: Relay, runs: int = 3) -> int:
    return relay.order(LINK, quantity=100, runs=str(runs), interval="10")


def _runs(db: Database, parent_id: int) -> list[Order]:
    with db.read() as session:
        return list(
            session.scalars(
                select(Order).where(Order.parent_id == parent_id).order_by(Order.run_number)
            )
        )


def _make_due(db: Database, parent_id: int) -> None:
    """The next run's time has come (instead of waiting `interval` minutes)."""
    with db.write() as session:
        parent = session.get(Order, parent_id)
        assert parent is not None and parent.next_run_at is not None
        parent.next_run_at = utcnow() - timedelta(seconds=1)


def _ledger(db: Database, account_id: int) -> list[tuple[str, int, int | None]]:
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.order_id)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.kind != "topup")
            .order_by(LedgerEntry.id)
        )
        return [(kind, amount, order_id) for kind, amount, order_id in rows]


def _balance(relay: Relay) -> int:
    return account_balance(relay.db, relay.customer.id)[0]


def _cancel_status(db: Database, cancel_id: int) -> str:
    with db.read() as session:
        cancel = session.get(Cancel, cancel_id)
        assert cancel is not None
        return cancel.status


def test_runs_are_forwarded_one_at_a_time_and_the_parent_completes(drip: Relay) -> None:
    parent_id = _place(drip)
    parent = drip.get(parent_id)
    assert (parent.forward_state, parent.charge, parent.total_quantity) == (
        "parent",
        CHARGE_300,
        300,
    )

    drip.run()  # the first run is due at once
    [run1] = _runs(drip.db, parent_id)
    assert (run1.run_number, run1.kind, run1.quantity, run1.total_quantity, run1.remains) == (
        1,
        "order",
        100,
        100,
        100,
    )
    assert (run1.charge, run1.status, run1.forward_state) == (0, "Pending", "accepted")
    assert (run1.link, run1.rate, run1.active_link) == (LINK, RATE, None)
    parent = drip.get(parent_id)
    assert (parent.status, parent.remains) == ("In progress", 300)
    assert parent.next_run_at is not None
    wait = as_utc(parent.next_run_at) - as_utc(run1.created_at)
    assert timedelta(minutes=9) < wait <= timedelta(minutes=10)

    drip.run()  # not due yet: nothing more
    assert len(_runs(drip.db, parent_id)) == 1
    drip.finish_upstream()  # run 1 delivered
    run1 = _runs(drip.db, parent_id)[0]
    parent = drip.get(parent_id)
    assert (run1.status, parent.status, parent.remains) == ("Completed", "In progress", 200)
    assert parent.start_count == run1.start_count is not None

    for remaining in (100, 0):
        _make_due(drip.db, parent_id)
        drip.run()
        drip.finish_upstream()
        assert drip.get(parent_id).remains == remaining
    parent = drip.get(parent_id)
    assert (parent.status, parent.remains, parent.next_run_at) == ("Completed", 0, None)
    assert [r.run_number for r in _runs(drip.db, parent_id)] == [1, 2, 3]
    drip.run()  # no fourth run
    upstream = drip.sim.control.orders()
    assert [(o["kind"], o["quantity"], o["link"]) for o in upstream] == [("order", 100, LINK)] * 3
    assert sorted(str(o["id"]) for o in upstream) == sorted(
        str(r.provider_order_id) for r in _runs(drip.db, parent_id)
    )
    assert _ledger(drip.db, drip.customer.id) == [("charge", -CHARGE_300, parent_id)]
    assert _balance(drip) == START - CHARGE_300
    assert find_balance_mismatches(drip.db) == []


def test_a_partial_run_ends_the_parent_partial_with_the_exact_refund(drip: Relay) -> None:
    drip.sim.control.add_fault("partial", fraction=0.25, count=1)  # run 1: 25 not delivered
    parent_id = _place(drip)
    drip.run()
    drip.finish_upstream()
    for _ in range(2):
        _make_due(drip.db, parent_id)
        drip.run()
        drip.finish_upstream()
    runs = _runs(drip.db, parent_id)
    assert [(r.status, r.remains) for r in runs] == [
        ("Partial", 25),
        ("Completed", 0),
        ("Completed", 0),
    ]
    parent = drip.get(parent_id)
    assert (parent.status, parent.remains) == ("Partial", 25)
    refund = to_units("0.0225")  # 25 x 0.90 / 1000
    drip.finish_upstream()  # another pass refunds nothing more
    assert _ledger(drip.db, drip.customer.id) == [
        ("charge", -CHARGE_300, parent_id),
        ("refund", refund, parent_id),
    ]
    assert _balance(drip) == START - CHARGE_300 + refund
    assert find_balance_mismatches(drip.db) == []


def test_cancel_after_the_first_run_stops_the_rest_and_refunds_them(drip: Relay) -> None:
    parent_id = _place(drip)
    drip.run()
    cancel_id, kind = request_cancel(drip.db, account_id=drip.customer.id, order_id=parent_id)
    assert kind == "dripfeed"
    # Run 1 is still running upstream: the parent waits for it.
    parent = drip.get(parent_id)
    assert (parent.status, parent.next_run_at) == ("In progress", None)
    assert _cancel_status(drip.db, cancel_id) == "Pending"
    with pytest.raises(InvalidStatusChange):  # completing it by hand would refund run 1
        resolve_cancel(drip.db, cancel_id=cancel_id, status="Completed")
    drip.run()
    drip.finish_upstream()
    parent = drip.get(parent_id)
    assert (parent.status, parent.remains) == ("Partial", 200)
    assert _cancel_status(drip.db, cancel_id) == "Completed"
    drip.run()
    assert len(_runs(drip.db, parent_id)) == 1
    assert len(drip.sim.control.orders()) == 1
    refund = to_units("0.18")  # 200 x 0.90 / 1000
    assert _ledger(drip.db, drip.customer.id)[1:] == [("refund", refund, parent_id)]
    assert _balance(drip) == START - CHARGE_300 + refund
    assert find_balance_mismatches(drip.db) == []


def test_cancel_with_no_run_running_ends_at_once(drip: Relay) -> None:
    parent_id = _place(drip)
    drip.run()
    drip.finish_upstream()  # run 1 delivered; run 2 not due yet
    cancel_id, _ = request_cancel(drip.db, account_id=drip.customer.id, order_id=parent_id)
    parent = drip.get(parent_id)
    assert (parent.status, parent.remains) == ("Partial", 200)
    assert _cancel_status(drip.db, cancel_id) == "Completed"
    assert _balance(drip) == START - CHARGE_300 + to_units("0.18")

    before_any = _place(drip, runs=2)  # canceled before its first run: all refunded
    cancel_id, _ = request_cancel(drip.db, account_id=drip.customer.id, order_id=before_any)
    assert drip.get(before_any).status == "Canceled"
    assert _cancel_status(drip.db, cancel_id) == "Completed"
    drip.run()
    assert _runs(drip.db, before_any) == []
    assert _balance(drip) == START - CHARGE_300 + to_units("0.18")
    assert find_balance_mismatches(drip.db) == []


def test_a_rejected_run_counts_as_undelivered(drip: Relay) -> None:
    drip.sim.control.add_fault("refuse", variant="link", count=1)  # run 1 refused upstream
    parent_id = _place(drip, runs=2)
    drip.run()
    [run1] = _runs(drip.db, parent_id)
    assert (run1.status, run1.forward_state) == ("Canceled", "rejected")
    assert _ledger(drip.db, drip.customer.id) == [("charge", -to_units("0.18"), parent_id)]
    _make_due(drip.db, parent_id)
    drip.run()
    drip.finish_upstream()
    parent = drip.get(parent_id)
    assert (parent.status, parent.remains) == ("Partial", 100)
    assert _balance(drip) == START - to_units("0.18") + to_units("0.09")
    assert find_balance_mismatches(drip.db) == []


def test_concurrent_passes_make_each_run_once(
    drip: Relay, caplog: pytest.LogCaptureFixture
) -> None:
    parent_id = _place(drip)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def one_pass() -> None:
        try:
            barrier.wait()
            dripfeed_runs(drip.db, {})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_pass) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
    dripfeed_runs(drip.db, {})
    assert [r.run_number for r in _runs(drip.db, parent_id)] == [1]
    _make_due(drip.db, parent_id)
    dripfeed_runs(drip.db, {})
    dripfeed_runs(drip.db, {})
    assert [r.run_number for r in _runs(drip.db, parent_id)] == [1, 2]


def test_manual_dripfeed_is_left_to_the_owner(drip: Relay) -> None:
    manual = make_service(drip.db, name="Manual", dripfeed=True)
    placed = place_order(
        drip.db,
        account_id=drip.customer.id,
        service_id=manual,
        params={"link": LINK, "quantity": "100", "runs": "3", "interval": "10"},
    )
    drip.run()
    order = drip.get(placed.order_id)
    assert (order.forward_state, order.next_run_at, order.status) == (None, None, "Pending")
    assert _runs(drip.db, placed.order_id) == []
    assert drip.sim.control.orders() == []


def test_the_first_run_goes_at_once_without_waiting_for_the_schedule(
    db: Database, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim, dripfeed=True)  # the drip-feed schedule: every 30 s
    relay.run()  # the schedules' first ticks pass
    parent_id = _place(relay)
    relay.run()
    [first] = _runs(db, parent_id)
    assert (first.run_number, first.forward_state) == (1, "accepted")
    assert len(sim.control.orders()) == 1
