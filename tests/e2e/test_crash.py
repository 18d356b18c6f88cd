"""Crash tests: the worker process is SIGKILLed at each recovery point of
forwarding; a restarted worker must end every order correctly, with exactly one
upstream order per local order and a clean ledger."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smmpanel.accounts.service import create_account
from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.models import Order
from smmpanel.orders.service import place_order, update_order
from smmpanel.providers.service import add_provider, map_service
from smmpanel.schema import upgrade_schema
from smmpanel.server import serve_in_thread
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.e2e.processes import process, smmpanel_env, wait_for
from tests.factories import make_customer, make_provider, make_service

FAST = {
    "SMMPANEL_JOB_LEASE_SECONDS": "1",
    "SMMPANEL_STATUS_SYNC_SECONDS": "1",
    "SMMPANEL_RECONCILE_SECONDS": "1",
}
CRASH_POINTS = ["forward:before_send", "forward:after_send", "forward:after_accept"]


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(speed=0.3) as running:
        yield running


def _orders(db: Database, count: int) -> list[int]:
    service = make_service(db)
    map_service(db, service_id=service, provider_name="up", upstream_service_id="1")
    customer = make_customer(db, balance="10")
    return [
        place_order(
            db,
            account_id=customer.id,
            service_id=service,
            params={"link": f"https://crash.test/{n}", "quantity": "100"},
        ).order_id
        for n in range(count)
    ]


def _states(db: Database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    with db.read() as session:
        rows = session.execute(
            select(Order.id, Order.status, Order.forward_state).where(Order.id.in_(ids))
        )
        return {oid: (status, state) for oid, status, state in rows}


def _crash_then_recover(
    db: Database,
    tmp_path: Path,
    point: str,
    ids: list[int],
    done: tuple[str, ...],
    state: str | None = None,
) -> None:
    """Kill a worker at `point`, then run a fresh one until every order's status
    is in `done` (and its forwarding state is `state`, when given)."""
    env = smmpanel_env(db.url, **FAST)
    with process(
        {**env, "SMMPANEL_CRASH_AT": point},
        "worker",
        "--poll",
        "0.1",
        log=tmp_path / "crashing.log",
    ) as crashing:
        code = wait_for(crashing.poll, timeout=60, what=f"the worker to die at {point}")
    assert code == -signal.SIGKILL
    with process(env, "worker", "--poll", "0.1", log=tmp_path / "restarted.log"):
        wait_for(
            lambda: all(s[0] in done and state in (None, s[1]) for s in _states(db, ids).values()),
            timeout=90,
            what=f"every order to be {' or '.join(done)}",
        )


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_at_each_point_with_a_lookup_upstream(
    db: Database, sim: RunningSimulator, tmp_path: Path, point: str
) -> None:
    add_provider(
        db,
        name="up",
        api_url=sim.api_url,
        api_key=sim.key,
        dialect={"timeout": 5, "lookup_url": f"{sim.base_url}/_sim/orders"},
    )
    ids = _orders(db, 3)
    _crash_then_recover(db, tmp_path, point, ids, ("Completed", "Canceled"))
    states = _states(db, ids)
    links = sim.control.links()
    if point == "forward:before_send":
        # The first order never left: the look-up proves the upstream has none, so
        # it is canceled and refunded; nothing was ever sent twice.
        assert states[ids[0]] == ("Canceled", "rejected")
        assert [states[i][0] for i in ids[1:]] == ["Completed", "Completed"]
        assert links == {f"https://crash.test/{n}": 1 for n in (1, 2)}
        assert _refunded(db, ids[0])
    else:
        # The upstream has it: adopted by reconciliation (after_send) or already
        # recorded (after_accept); completed, never resent.
        assert all(state == ("Completed", "accepted") for state in states.values())
        assert links == {f"https://crash.test/{n}": 1 for n in range(3)}
    assert all(r["add_requests"] == 1 for r in sim.control.orders())
    assert find_balance_mismatches(db) == []


def _refunded(db: Database, order_id: int) -> bool:
    with db.read() as session:
        found = session.execute(
            select(LedgerEntry.id).where(LedgerEntry.cause == f"refund:order:{order_id}")
        )
        return found.first() is not None


@pytest.fixture
def upstream_panel(tmp_path: Path) -> Iterator[tuple[Database, str, str]]:
    """A second smmpanel, as the upstream of the panel under test."""
    up = Database(f"sqlite:///{tmp_path / 'upstream.db'}")
    upgrade_schema(up)
    make_service(up)
    account = create_account(up, username="reseller")
    fund_account(up, username="reseller", amount="100")
    with serve_in_thread(create_app(up)) as url:
        yield up, f"{url}/api/v2", account.api_key
    up.dispose()


@pytest.mark.parametrize("point", ["forward:after_send", "forward:before_send"])
def test_crash_with_a_smmpanel_upstream_resends_by_request_id(
    db: Database, upstream_panel: tuple[Database, str, str], tmp_path: Path, point: str
) -> None:
    up, url, key = upstream_panel
    add_provider(db, name="up", api_url=url, api_key=key, dialect={"request_id": True})
    ids = _orders(db, 2)
    _crash_then_recover(db, tmp_path, point, ids, ("Pending",), state="accepted")
    with up.read() as session:
        assert session.scalar(select(func.count(Order.id))) == 2  # never ordered twice
        upstream_ids = list(session.scalars(select(Order.id)))
    for upstream_id in upstream_ids:
        update_order(up, order_id=upstream_id, status="Completed")
    env = smmpanel_env(db.url, **FAST)
    with process(env, "worker", "--poll", "0.1", log=tmp_path / "sync.log"):
        wait_for(
            lambda: all(s[0] == "Completed" for s in _states(db, ids).values()),
            timeout=60,
            what="the upstream statuses to come back",
        )
    assert find_balance_mismatches(db) == []


def test_two_worker_processes_never_forward_twice(
    db: Database, sim: RunningSimulator, tmp_path: Path
) -> None:
    make_provider(db, sim, "up", dialect={"timeout": 5})
    ids = _orders(db, 30)
    env = smmpanel_env(db.url, **FAST)
    with (
        process(env, "worker", "--poll", "0.05", "--name", "a", log=tmp_path / "a.log"),
        process(env, "worker", "--poll", "0.05", "--name", "b", log=tmp_path / "b.log"),
    ):
        wait_for(
            lambda: all(s[1] == "accepted" for s in _states(db, ids).values()),
            timeout=90,
            what="every order to be forwarded",
        )
    records = sim.control.orders()
    assert len(records) == 30
    assert sum(r["add_requests"] for r in records) == 30
