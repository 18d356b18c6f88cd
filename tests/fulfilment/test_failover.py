"""Failover: a provider that cannot be reached (nothing was sent) counts as one
that cannot take the order, and the next mapping is tried; a timeout after the
request was sent is reconciled first, never sent elsewhere."""

from __future__ import annotations

from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.providers.service import add_provider, map_service
from smmpanel.server import free_port
from smmpanel.simulator.testing import RunningSimulator
from tests.factories import make_provider
from tests.fulfilment.conftest import Relay, make_relay


def _first_mapping(db: Database, sim: RunningSimulator, name: str, url: str) -> Relay:
    """A relay whose service is mapped to `name` at `url` first, then to the simulator."""
    relay = make_relay(db, sim)
    add_provider(db, name=name, api_url=url, api_key=sim.key, dialect={"timeout": 1.0})
    map_service(
        db, service_id=relay.service_id, provider_name=name, upstream_service_id="1", priority=1
    )
    map_service(
        db, service_id=relay.service_id, provider_name="sim", upstream_service_id="1", priority=2
    )
    return relay


def _calls(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(Provider.name, ProviderOrderRecord.outcome)
            .join(Provider, Provider.id == ProviderOrderRecord.provider_id)
            .order_by(ProviderOrderRecord.id)
        ).all()
    return [(name, outcome) for name, outcome in rows]


def _accepted_by(relay: Relay, order_id: int) -> str:
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "accepted")
    with relay.db.read() as session:
        return session.scalars(select(Provider.name).where(Provider.id == order.provider_id)).one()


def test_connection_refused_fails_over_to_the_next_mapping(
    db: Database, sim: RunningSimulator
) -> None:
    """A few seconds: the SDK tries a refused connection three times, with backoff."""
    relay = _first_mapping(db, sim, "down", f"http://127.0.0.1:{free_port()}/api/v2")
    order_id = relay.order()
    relay.run()
    assert _accepted_by(relay, order_id) == "sim"
    assert _calls(db) == [("down", "unreachable"), ("sim", "accepted")]
    assert relay.get(order_id).waiting_since is None
    assert len(sim.control.orders()) == 1


def test_tls_failure_fails_over_to_the_next_mapping(db: Database, sim: RunningSimulator) -> None:
    """A few seconds: the SDK tries a failed handshake three times, with backoff."""
    # https:// to a plain-HTTP server: the handshake fails before any request.
    relay = _first_mapping(db, sim, "tls", sim.api_url.replace("http://", "https://"))
    order_id = relay.order()
    relay.run()
    assert _accepted_by(relay, order_id) == "sim"
    assert _calls(db) == [("tls", "unreachable"), ("sim", "accepted")]
    assert len(sim.control.orders()) == 1


def test_every_mapping_unreachable_makes_the_order_wait(
    db: Database, sim: RunningSimulator
) -> None:
    """A few seconds: each refused provider is tried three times, with backoff."""
    relay = _first_mapping(db, sim, "down", f"http://127.0.0.1:{free_port()}/api/v2")
    with db.write() as session:
        sim_provider = session.scalars(select(Provider).where(Provider.name == "sim")).one()
        sim_provider.api_url = f"http://127.0.0.1:{free_port()}/api/v2"
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "queued")
    assert order.forward_error == "no provider can take it now (unreachable: down, sim)"
    assert _calls(db) == [("down", "unreachable"), ("sim", "unreachable")]
    assert sim.control.orders() == []


def test_timeout_after_sending_is_reconciled_not_failed_over(
    db: Database, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim, dialect={"lookup_url": f"{sim.base_url}/_sim/orders"})
    make_provider(db, sim, "backup")
    map_service(db, service_id=relay.service_id, provider_name="backup", upstream_service_id="1")
    sim.control.add_fault("timeout", variant="hold", seconds=3, count=1)
    order_id = relay.order()
    relay.run()  # the add times out after it was sent: looked up, adopted at `sim`
    assert _accepted_by(relay, order_id) == "sim"
    assert _calls(db) == [("sim", "unknown")]
    assert [o["id"] for o in sim.control.orders()] == [
        int(relay.get(order_id).provider_order_id or 0)
    ]
