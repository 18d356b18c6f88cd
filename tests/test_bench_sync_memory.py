"""The status sync and memory benchmarks' own logic: their fixture is a
consistent panel, their verdicts say what docs/benchmarks.md says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.providers.status_sync import sync_provider_statuses
from smmpanel.simulator.testing import running_simulator

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_sync_fixture_is_a_consistent_panel_and_its_passes_change_what_they_say(
    db: Database,
) -> None:
    bench = _bench("bench_status_sync")
    with running_simulator(manual_clock=True, speed=bench.STAGE, balance="1000") as sim:
        bench.seed_simulator(sim.state, 250, 0.1)
        access = bench.seed_database(db, sim.api_url, sim.key, 250)
        assert find_balance_mismatches(db) == []
        with db.read() as session:
            balance = session.scalar(select(Account.balance).where(Account.username == "bench"))
        assert balance == to_units("100")  # what is left after 250 charges of 0.09
        assert bench.bare_pass(db, access)[:2] == (250, 3)
        first = sync_provider_statuses(db, access)
        assert (first.checked, first.changed, first.calls, first.errors) == (250, 250, 3, [])
        assert sync_provider_statuses(db, access).changed == 0
        sim.control.advance(bench.STAGE / 2 + 1)
        assert sync_provider_statuses(db, access).changed == 25  # the early tenth started
        assert find_balance_mismatches(db) == []


def test_memory_verdicts() -> None:
    bench = _bench("bench_memory")
    flat = [(t * 10.0, 100.0 + (5 if t else 0)) for t in range(61)]
    assert bench.verdict(flat) == ("PASS", 0.0)
    assert bench.slope_per_minute([(0.0, 100.0), (60.0, 102.0), (120.0, 104.0)]) == 2.0
    growing = [(t * 10.0, 100.0 + t) for t in range(61)]  # 130 -> 160 MB
    result, growth = bench.verdict(growing)
    assert result == "FAIL: max 160.0 MB > 150 MB; second half grew 23.1% >= 5%"
    assert growth == pytest.approx(30 / 130)
