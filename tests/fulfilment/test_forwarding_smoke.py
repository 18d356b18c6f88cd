from __future__ import annotations

from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.models import Order
from smmpanel.orders.service import place_order
from smmpanel.providers.status_sync import sync_statuses
from smmpanel.providers.service import add_provider, map_service
from smmpanel.simulator.testing import running_simulator
from smmpanel.worker import build_worker
from tests.factories import make_customer, make_service


def test_order_is_forwarded_and_completes(db: Database) -> None:
    with running_simulator(manual_clock=True) as sim:
        add_provider(db, name="sim", api_url=f"{sim.base_url}/api/v2", api_key=sim.key)
        service_id = make_service(db)
        map_service(db, service_id=service_id, provider_name="sim", upstream_service_id="1")
        customer = make_customer(db)
        placed = place_order(
            db,
            account_id=customer.id,
            service_id=service_id,
            params={"link": "https://x.com/a", "quantity": "100"},
        )
        worker = build_worker(db)
        worker.run_once()
        with db.read() as s:
            order = s.get(Order, placed.order_id)
            assert order is not None
            assert order.forward_state == "accepted", order.forward_state
            assert order.provider_order_id
        sim.control.advance(3600)
        sync_statuses(db, {})
        with db.read() as s:
            order = s.get(Order, placed.order_id)
            assert order is not None
            print(order.status, order.remains)
        assert find_balance_mismatches(db) == []
