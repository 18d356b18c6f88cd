"""The admin's money queues over HTTP: deposits held or awaiting a manual
approval (credited exactly once, rejected with a reason), and orders whose
forwarding needs staff (resent, canceled and refunded, adopted), each decided
singly and in bulk with audit rows naming the staff member."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smmpanel.accounts.queries import account_balance
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.forwarding_states import ForwardState, move_forward_state
from smmpanel.orders.lifecycle import lock_order
from smmpanel.orders.models import Order
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.gateway import EventKind
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.providers.forwarding import forward_failed
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_backed_service, make_customer, make_order, make_provider
from tests.payments.conftest import install_plugin, uninstall_plugin
from tests.payments.fakes import SECRET, event
from tests.payments.helpers import deposit_of, start
from tests.web.admin.queue_helpers import (
    audit_rows,
    counts,
    decide,
    decided,
    listed,
    queue_page,
)
from tests.web.admin_helpers import staff_browser

SYSTEM = Actor.system()
GATEWAY = Actor("gateway", "fake")


@pytest.fixture
def gateways(db: Database, tmp_path: Path) -> Iterator[None]:
    """The tests' fake gateway (installed as a plug-in) and the manual transfer, enabled."""
    root = tmp_path / "site"
    install_plugin(root, "fake_gateway", {"fake": "tests.payments.fakes:FakeGateway"})
    configure_gateway(db, code="fake", values={"secret": SECRET}, actor=SYSTEM)
    enable_gateway(db, code="fake", actor=SYSTEM)
    configure_gateway(db, code="manual", values={"instructions": "IBAN DE00 1234"}, actor=SYSTEM)
    enable_gateway(db, code="manual", actor=SYSTEM)
    yield
    uninstall_plugin(root)


def _paid(db: Database, deposit_id: int, amount: str, currency: str = "USD") -> str:
    outcome = apply_gateway_event(
        db, gateway="fake", event=event(EventKind.PAID, deposit_id, amount, currency), actor=GATEWAY
    )
    return outcome.result


def test_deposits_held_or_awaiting_are_approved_once_or_rejected_with_a_reason(
    db: Database, browser_factory: Any, gateways: None
) -> None:
    alice = make_customer(db, "alice", balance="0")
    d1, d2, d4, _d5 = (start(db, alice.id, amount) for amount in ("20", "30", "10", "15"))
    d3 = start(db, alice.id, "50", gateway="manual")
    assert (_paid(db, d1, "19"), _paid(db, d2, "30", "EUR"), _paid(db, d4, "10")) == (
        "held",
        "held",
        "credited",
    )
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    assert listed(manager, "deposits") == [d1, d2, d3]  # not the paid d4, nor d5 at its gateway
    page = queue_page(manager, "deposits").text
    assert counts(page) == {"refills": "0", "cancels": "0", "deposits": "3", "orders": "0"}
    assert "19.00000 USD" in page and "30.00000 EUR" in page
    assert page.count("the amount or currency paid differs from the deposit&#39;s") == 2
    assert "manual transfer" in page

    page = decided(manager, "deposits", "approve", [d1, d2, d4])
    assert "2 done, 1 refused" in page and f"#{d4}: deposit D-{d4:06d} is paid" in page
    credited = to_units("10") + to_units("20") + to_units("30")
    assert account_balance(db, alice.id)[0] == credited
    page = decided(manager, "deposits", f"approve:{d1}")  # once only
    assert "0 done, 1 refused" in page
    assert account_balance(db, alice.id)[0] == credited

    page = decided(manager, "deposits", f"reject:{d3}")
    assert "0 done, 1 refused" in page and "give a reason for the rejection" in page
    assert deposit_of(db, d3).state != "rejected"
    decided(manager, "deposits", f"reject:{d3}", reason="  never   arrived ")
    assert deposit_of(db, d3).state == "rejected"
    assert account_balance(db, alice.id)[0] == credited
    assert listed(manager, "deposits") == []
    assert audit_rows(db, "deposit_approved") == [
        ("staff:mia", f"deposit:{d1}"),
        ("staff:mia", f"deposit:{d2}"),
    ]
    assert audit_rows(db, "deposit_rejected") == [("staff:mia", f"deposit:{d3}")]
    assert find_balance_mismatches(db) == []


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


def _forward_state(db: Database, order_id: int) -> tuple[str, str | None, str | None]:
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.status, order.forward_state, order.provider_order_id


def _fail(db: Database, order_id: int, *, while_sending: bool = False) -> None:
    """The forward job gives up: `failed`, or `reconcile` when it was sending."""
    with db.write() as session:
        if while_sending:
            order = lock_order(session, order_id)
            move_forward_state(session, order=order, to=ForwardState.SENDING, actor="test")
        forward_failed(session, {"order_id": order_id}, "boom")


def test_orders_needing_staff_are_resent_canceled_or_adopted(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    service_id = make_backed_service(db, make_provider(db, sim, "sim"))
    alice = make_customer(db, "alice")
    o1, o2, o3, o4, o5 = (
        make_order(db, alice, service_id, link=f"https://x.com/{n}") for n in range(5)
    )
    for order_id in (o1, o2, o3):
        _fail(db, order_id)
    _fail(db, o4, while_sending=True)
    before = account_balance(db, alice.id)[0]
    owner = staff_browser(db, browser_factory, role="owner", username="olga")
    assert listed(owner, "orders") == [o1, o2, o3, o4]  # not o5, queued as it should be
    page = queue_page(owner, "orders").text
    assert counts(page)["orders"] == "4"
    assert page.count(">failed<") == 3 and page.count(">outcome unknown<") == 1

    decided(owner, "orders", f"resend:{o1}")
    assert _forward_state(db, o1) == ("Pending", "queued", None)
    page = decided(owner, "orders", "cancel", [o2, o3, o5])
    assert "2 done, 1 refused" in page
    assert f"#{o5}: order {o5} does not wait for staff at its provider" in page
    assert [_forward_state(db, o)[:2] for o in (o2, o3, o5)] == [
        ("Canceled", "rejected"),
        ("Canceled", "rejected"),
        ("Pending", "queued"),
    ]
    assert account_balance(db, alice.id)[0] == before + 2 * to_units("0.09")

    refused = decide(owner, "orders", f"adopt:{o4}")
    assert refused.status_code == 400 and "Write the provider&#39;s order id." in refused.text
    decided(owner, "orders", f"adopt:{o4}", [], **{f"upstream-{o4}": "777"})
    assert _forward_state(db, o4) == ("Pending", "accepted", "777")
    assert listed(owner, "orders") == []
    assert audit_rows(db, "order_resent") == [("staff:olga", f"order:{o1}")]
    assert audit_rows(db, "order_canceled_by_hand") == [
        ("staff:olga", f"order:{o2}"),
        ("staff:olga", f"order:{o3}"),
    ]
    assert audit_rows(db, "order_adopted_by_hand") == [("staff:olga", f"order:{o4}")]
    assert find_balance_mismatches(db) == []
