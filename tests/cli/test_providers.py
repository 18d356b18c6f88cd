"""`smmpanel providers ...`, `services map`, `alerts`, `worker --once` against a real simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.orders.service import place_order
from smmpanel.panel.models import Alert
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.cli.conftest import Run, last_line
from tests.factories import make_customer, make_service


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True, balance="321.5") as running:
        yield running


def _add(run: Run, sim: RunningSimulator, *extra: str) -> str:
    return last_line(run("providers", "add", "sim", sim.api_url, sim.key, *extra))


def test_add_list_and_mask_the_key(run: Run, sim: RunningSimulator) -> None:
    assert _add(run, sim, "--request-id", "--timeout", "5") == "1"
    listed = json.loads(run("providers", "list", "--json").stdout)
    assert listed[0]["name"] == "sim" and listed[0]["status"] == "active"
    assert listed[0]["balance"] == "321.50000 USD"
    assert sim.key not in run("providers", "list").stdout
    assert listed[0]["key"] == sim.key[:4] + "…"
    run("providers", "add", "sim", sim.api_url, sim.key, ok=False)  # the name is taken


def test_a_key_starting_with_a_dash_is_added_after_double_dash(run: Run) -> None:
    key = "-" + "k" * 31  # other panels' keys may start with "-", which reads as an option
    with running_simulator(manual_clock=True, key=key) as dashed:
        assert last_line(run("providers", "add", "sim", dashed.api_url, "--", key)) == "1"
        assert "1 imported" in run("providers", "import", "sim", "--service", "1").stdout


def test_import_with_markup_then_map_and_sync(
    run: Run, db: Database, sim: RunningSimulator
) -> None:
    _add(run, sim)
    out = run(
        "providers", "import", "sim", "--markup", "25%", "--category", "Instagram Likes"
    ).stdout
    assert "1 imported" in out
    services = json.loads(run("services", "list", "--json").stdout)
    assert [(s["name"], s["rate"]) for s in services] == [
        ("Instagram Likes", "0.32000")
    ]  # 0.25 x 1.25
    manual = make_service(db, name="Manual", rate="5")
    run("services", "map", str(manual), "--provider", "sim", "--upstream-service", "3")
    sim.control.catalog(service=2, rate="0.40")
    out = run("providers", "sync-prices").stdout
    assert "service 1: 0.32000 -> 0.50000" in out
    rates = {s["name"]: s["rate"] for s in json.loads(run("services", "list", "--json").stdout)}
    assert rates == {"Instagram Likes": "0.50000", "Manual": "5.00000"}  # hand-priced stays
    run("services", "unmap", str(manual), "--provider", "sim")
    run("services", "unmap", str(manual), "--provider", "sim", ok=False)


def test_worker_once_forwards_and_pause_resume(
    run: Run, db: Database, sim: RunningSimulator
) -> None:
    _add(run, sim)
    service = make_service(db)
    run("services", "map", str(service), "--provider", "sim", "--upstream-service", "1")
    customer = make_customer(db)
    run("providers", "pause", "sim")
    order_id = place_order(
        db,
        account_id=customer.id,
        service_id=service,
        params={"link": "https://x.com/p", "quantity": "100"},
    ).order_id
    run("worker", "--once")
    with db.read() as session:
        assert session.get(Order, order_id).forward_state == "queued"  # type: ignore[union-attr]
    run("providers", "resume", "sim")
    with db.write() as session:  # the waiting job is backing off: make it due now
        from smmpanel.jobs.models import Job

        for job in session.scalars(select(Job).where(Job.status == "queued")):
            job.run_at = job.created_at
    assert "jobs run" in run("worker", "--once").stdout
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None and order.forward_state == "accepted"


def test_reconcile_by_hand_and_alerts(run: Run, db: Database, sim: RunningSimulator) -> None:
    _add(run, sim)
    service = make_service(db)
    run("services", "map", str(service), "--provider", "sim", "--upstream-service", "1")
    customer = make_customer(db)
    ids = [
        place_order(
            db,
            account_id=customer.id,
            service_id=service,
            params={"link": f"https://x.com/{n}", "quantity": "100"},
        ).order_id
        for n in range(2)
    ]
    with db.write() as session:
        for order_id in ids:
            order = session.get(Order, order_id)
            assert order is not None
            order.forward_state, order.provider_id = "reconcile", 1
        session.add(Alert(kind="reconcile", subject=f"order {ids[0]}", message="look at it"))
        session.add(Alert(kind="reconcile", subject="order 999999", message="and at this"))
    listed = json.loads(run("orders", "list", "--reconcile", "--json").stdout)
    assert sorted(o["id"] for o in listed) == ids
    out = run("providers", "reconcile", "--adopt", f"{ids[0]}=777", "--cancel", str(ids[1])).stdout
    assert f"order {ids[0]}: adopted upstream order 777" in out
    with db.read() as session:
        first, second = (session.get(Order, i) for i in ids)
        assert first is not None and (first.forward_state, first.provider_order_id) == (
            "accepted",
            "777",
        )
        assert second is not None and second.status == "Canceled"
        adopted = session.execute(
            select(OrderEvent.from_forward, OrderEvent.actor).where(
                OrderEvent.order_id == ids[0], OrderEvent.to_forward == "accepted"
            )
        ).all()
        assert [(row[0], row[1].split(":")[0]) for row in adopted] == [("reconcile", "cli")]
    # The adopted order's alert is dealt with; the other order's still waits.
    alerts = json.loads(run("alerts", "list", "--json").stdout)
    assert [(a["kind"], a["subject"]) for a in alerts] == [("reconcile", "order 999999")]
    run("alerts", "resolve", str(alerts[0]["id"]))
    assert json.loads(run("alerts", "list", "--json").stdout) == []
    run("providers", "reconcile", "--adopt", "nonsense", code=2)
    # An order its provider has cannot be canceled as never sent.
    refused = run("providers", "reconcile", "--cancel", str(ids[0]), ok=False)
    assert f"order {ids[0]} cannot move from accepted to rejected" in refused.stderr
