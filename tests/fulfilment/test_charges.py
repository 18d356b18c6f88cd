"""An order's `charge` is what it costs the account now: its charge minus its
refunds (Partial: the part delivered; Canceled: 0), in `status`, in the owner's
lists and in webhook bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from smmpanel.accounts.models import Account
from smmpanel.api_v2.app import create_app
from smmpanel.client import Client
from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.orders.service import place_order, update_order
from smmpanel.orders.webhooks import WEBHOOK_JOB
from smmpanel.server import serve_in_thread
from tests.cli.conftest import invoke
from tests.factories import Customer, make_customer, make_service
from tests.fulfilment.conftest import Relay


@pytest.fixture
def api(db: Database) -> Iterator[str]:
    """The panel's /api/v2, served over HTTP from the test's database."""
    with serve_in_thread(create_app(db)) as url:
        yield f"{url}/api/v2"


@pytest.fixture
def alice(db: Database) -> Customer:
    return make_customer(db)


def _order(db: Database, customer: Customer, service_id: int, quantity: int = 1000) -> int:
    params = {"link": "https://instagram.com/p/1", "quantity": str(quantity)}
    return place_order(db, account_id=customer.id, service_id=service_id, params=params).order_id


def _charge(api: str, customer: Customer, order_id: int) -> tuple[Decimal | None, ...]:
    """The order's charge as `status` and as a many-id `status` report it."""
    with Client(api, customer.key) as client:
        one = client.status(order_id).charge
        [many] = client.statuses([order_id])
    return one, many.charge


def test_canceled_order_reports_no_charge(db: Database, api: str, alice: Customer) -> None:
    order_id = _order(db, alice, make_service(db, rate="0.20"))
    assert _charge(api, alice, order_id) == (Decimal("0.2"), Decimal("0.2"))
    update_order(db, order_id=order_id, status="Canceled")
    assert _charge(api, alice, order_id) == (Decimal(0), Decimal(0))


def test_partial_order_reports_the_part_delivered(db: Database, api: str, alice: Customer) -> None:
    order_id = _order(db, alice, make_service(db, rate="0.90"))
    update_order(db, order_id=order_id, status="Partial", remains=250)
    # 750 of 1000 delivered at 0.90 per 1000.
    assert _charge(api, alice, order_id) == (Decimal("0.675"), Decimal("0.675"))
    completed = _order(db, alice, make_service(db, name="Likes", rate="0.90"))
    update_order(db, order_id=completed, status="Completed")
    assert _charge(api, alice, completed) == (Decimal("0.9"), Decimal("0.9"))


def test_owner_lists_show_the_cost_and_the_refund(db: Database, alice: Customer) -> None:
    order_id = _order(db, alice, make_service(db, rate="0.20"))
    update_order(db, order_id=order_id, status="Canceled")
    listed = json.loads(invoke(["--database-url", db.url, "orders", "list", "--json"]).stdout)
    shown = json.loads(
        invoke(["--database-url", db.url, "orders", "show", str(order_id), "--json"]).stdout
    )
    for row in (listed[0], shown["order"]):
        assert (row["charge"], row["charged"], row["refunded"]) == (
            "0.00000",
            "0.20000",
            "0.20000",
        )
    table = invoke(["--database-url", db.url, "orders", "list"]).stdout
    assert "0.00000 USD" in table and "0.20000" not in table


def test_webhook_body_reports_the_cost_after_the_refund(db: Database, alice: Customer) -> None:
    with db.write() as session:  # a webhook on file (it is never delivered here)
        session.execute(
            update(Account)
            .where(Account.id == alice.id)
            .values(webhook_url="https://hooks.example/x", webhook_secret="s")
        )
    order_id = _order(db, alice, make_service(db, rate="0.90"))
    update_order(db, order_id=order_id, status="Partial", remains=250)
    update_order(db, order_id=_order(db, alice, make_service(db, name="L")), status="Canceled")
    with db.read() as session:
        payloads = session.scalars(select(Job.payload).where(Job.kind == WEBHOOK_JOB)).all()
    bodies = [json.loads(p["body"]) for p in payloads]
    assert [(b["status"], b["charge"]) for b in bodies] == [
        ("Partial", "0.67500"),
        ("Canceled", "0.00000"),
    ]


def test_orders_refunded_by_the_upstream_report_their_cost(
    db: Database, api: str, relay: Relay
) -> None:
    relay.sim.control.add_fault("cancel", count=1)
    canceled = relay.order(link="https://x.com/1", quantity=1000)
    relay.sim.control.add_fault("partial", fraction=0.25, count=1)
    partial = relay.order(link="https://x.com/2", quantity=1000)
    relay.run()
    relay.finish_upstream()
    assert (relay.get(canceled).status, relay.get(partial).status) == ("Canceled", "Partial")
    assert _charge(api, relay.customer, canceled) == (Decimal(0), Decimal(0))
    # 750 of 1000 delivered at 0.90 per 1000.
    assert _charge(api, relay.customer, partial) == (Decimal("0.675"), Decimal("0.675"))
