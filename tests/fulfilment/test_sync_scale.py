"""Status sync of 10,000 open orders: 100 calls a pass, nobody left behind."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select, update

from smmpanel.db import Database
from smmpanel.money import to_units
from smmpanel.orders.models import Order
from smmpanel.providers.gateway import ProviderAccess
from smmpanel.providers.models import Provider
from smmpanel.providers.service import map_service
from smmpanel.providers.status_sync import open_forwarded_orders, sync_provider_statuses
from smmpanel.simulator.testing import RunningSimulator
from smmpanel.timeutil import utcnow
from tests.factories import make_customer, make_provider, make_service

COUNT = 10_000


def _access(db: Database) -> ProviderAccess:
    with db.read() as session:
        return ProviderAccess.of(session.execute(select(Provider)).scalar_one())


def _seed(db: Database, sim: RunningSimulator) -> None:
    sim.control.set_balance("100000")
    make_provider(db, sim, "sim")
    service_id = make_service(db)
    map_service(db, service_id=service_id, provider_name="sim", upstream_service_id="1")
    customer = make_customer(db, balance="0")
    now = utcnow()
    rows = []
    for n in range(COUNT):
        upstream = sim.state.add({"service": "1", "link": f"https://x.com/{n}", "quantity": "100"})
        rows.append(
            dict(
                account_id=customer.id,
                service_id=service_id,
                kind="order",
                link=f"https://x.com/{n}",
                quantity=100,
                total_quantity=100,
                rate=to_units("0.90"),
                charge=0,
                package=False,
                currency="USD",
                status="Pending",
                remains=100,
                params={},
                created_at=now,
                updated_at=now,
                provider_id=1,
                provider_order_id=str(upstream),
                forward_state="accepted",
                forward_skip=[],
                stale=False,
            )
        )
    with db.write() as session:
        session.execute(insert(Order), rows)


def test_ten_thousand_orders_take_one_hundred_calls_per_pass(
    db: Database, sim: RunningSimulator
) -> None:
    _seed(db, sim)
    sim.control.reset_stats()
    report = sync_provider_statuses(db, _access(db))
    assert (report.checked, report.calls, report.errors) == (COUNT, 100, [])
    assert sim.control.stats()["requests"]["status"] == 100
    with db.read() as session:
        unchecked = session.scalar(select(func.count()).where(Order.synced_at.is_(None)))
    assert unchecked == 0  # no order waits for a second pass
    sim.control.advance(3600)
    report = sync_provider_statuses(db, _access(db))
    assert report.changed == COUNT and report.calls == 100
    with db.read() as session:
        statuses = dict(
            session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
        )
    assert statuses == {"Completed": COUNT}
    assert open_forwarded_orders(db, 1) == []


def test_least_recently_checked_orders_come_first(db: Database, sim: RunningSimulator) -> None:
    sim.control.set_balance("100000")
    make_provider(db, sim, "sim")
    service_id = make_service(db)
    customer = make_customer(db, balance="0")
    now = utcnow()
    with db.write() as session:
        for n, checked in enumerate([now, None, now - timedelta(hours=1)]):
            session.add(
                Order(
                    account_id=customer.id,
                    service_id=service_id,
                    link=f"l{n}",
                    quantity=10,
                    total_quantity=10,
                    rate=1,
                    charge=0,
                    currency="USD",
                    remains=10,
                    provider_id=1,
                    provider_order_id=str(100 + n),
                    forward_state="accepted",
                    synced_at=checked,
                )
            )
    assert [uid for _, uid in open_forwarded_orders(db, 1)] == ["101", "102", "100"]
    with db.write() as session:
        session.execute(update(Order).values(status="Completed"))
    assert open_forwarded_orders(db, 1) == []
