"""A provider's "[No link]" service, imported from a real simulator, takes orders
without a link (the demo's "Panel Test Credits [No link]" demanded one: the
`services` answer has no link field, and the import set link_required)."""

from __future__ import annotations

from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.orders.service import place_order
from smmpanel.providers.catalog_sync import import_provider_services
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.worker import build_worker
from tests.factories import make_customer
from tests.providers.helpers import service

CREDITS = "22"  # the simulator's "Panel Test Credits [No link]"


def test_an_imported_no_link_service_takes_orders_without_a_link(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    result = import_provider_services(
        db, provider_name=provider, markup_percent="25", upstream_ids=[CREDITS, "1"]
    )
    credits, followers = sorted(result.created, key=lambda c: c.upstream_id != CREDITS)
    assert credits.name == "Panel Test Credits [No link]"
    assert service(db, credits.service_id).link_required is False
    assert service(db, followers.service_id).link_required is True
    customer = make_customer(db)
    placed = place_order(
        db, account_id=customer.id, service_id=credits.service_id, params={"quantity": "10"}
    )
    # Forwarded to the simulator without a link, and accepted there.
    build_worker(db, name="w1").run_once()
    with db.read() as session:
        order = session.get(Order, placed.order_id)
        assert order is not None
        assert (order.link, order.forward_state) == ("", "accepted")
    (upstream,) = sim.control.orders()
    assert upstream["service"] == int(CREDITS)
