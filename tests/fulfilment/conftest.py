"""A panel (real database) backed by a real provider simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from smmpanel.db import Database
from smmpanel.jobs.worker import Worker
from smmpanel.orders.models import Order
from smmpanel.orders.service import place_order
from smmpanel.providers.service import add_provider, map_service
from smmpanel.providers.status_sync import sync_statuses
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from smmpanel.worker import build_worker
from tests.factories import Customer, make_customer, make_service


@dataclass
class Relay:
    db: Database
    sim: RunningSimulator
    service_id: int
    customer: Customer
    worker: Worker

    def order(self, link: str = "https://x.com/a", quantity: int = 100, **params: Any) -> int:
        placed = place_order(
            self.db,
            account_id=self.customer.id,
            service_id=self.service_id,
            params={"link": link, "quantity": str(quantity), **params},
        )
        return placed.order_id

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
    add_provider(
        db,
        name="sim",
        api_url=sim.api_url,
        api_key=sim.key,
        dialect={"timeout": 1.0, **(dialect or {})},
    )
    service_id = make_service(db, **service)
    map_service(
        db, service_id=service_id, provider_name="sim", upstream_service_id=upstream_service
    )
    return Relay(db, sim, service_id, make_customer(db, balance="100"), build_worker(db, name="w1"))


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


@pytest.fixture
def relay(db: Database, sim: RunningSimulator) -> Relay:
    return make_relay(db, sim)
