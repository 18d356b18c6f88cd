"""A panel (real database) backed by a real provider simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from smmpanel.db import Database
from smmpanel.jobs.worker import Worker
from smmpanel.orders.models import Order
from smmpanel.providers.status_sync import sync_statuses
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from smmpanel.worker import build_worker
from tests.factories import (
    Customer,
    make_backed_service,
    make_customer,
    make_order,
    make_provider,
)


@dataclass
class Relay:
    db: Database
    sim: RunningSimulator
    service_id: int
    customer: Customer
    worker: Worker

    def order(self, link: str = "https://x.com/a", quantity: int = 100, **params: Any) -> int:
        return make_order(
            self.db, self.customer, self.service_id, link=link, quantity=quantity, **params
        )

    def get(self, order_id: int) -> Order:
        with self.db.read() as session:
            order = session.get(Order, order_id)
            assert order is not None
            return order

    def run(self) -> int:
        return self.worker.run_once()

    def finish_upstream(self, seconds: float = 3600) -> None:
        """Let the simulator's clock run, then sync statuses back."""
        self.sim.control.advance(seconds)
        sync_statuses(self.db, {})


def make_relay(
    db: Database,
    sim: RunningSimulator,
    *,
    dialect: dict[str, Any] | None = None,
    upstream_service: str = "1",
    **service: Any,
) -> Relay:
    provider = make_provider(db, sim, "sim", dialect={"timeout": 1.0, **(dialect or {})})
    service_id = make_backed_service(db, provider, upstream_service=upstream_service, **service)
    return Relay(db, sim, service_id, make_customer(db, balance="100"), build_worker(db, name="w1"))


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


@pytest.fixture
def relay(db: Database, sim: RunningSimulator) -> Relay:
    return make_relay(db, sim)
