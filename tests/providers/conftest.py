"""A provider backed by a real simulator, over the test's database (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smmpanel.db import Database
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_provider


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


@pytest.fixture
def provider(db: Database, sim: RunningSimulator) -> str:
    """The name of a provider pointing at `sim` with the right key."""
    return make_provider(db, sim, "up")
