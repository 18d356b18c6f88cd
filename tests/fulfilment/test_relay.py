"""Forwarding, status sync, refunds, refills and cancels against a real simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.money import to_units
from smmpanel.orders.models import Cancel, Refill
from smmpanel.orders.requests import request_cancel, request_refill
from smmpanel.panel.models import Alert
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.providers.reconcile import reconcile_orders
from smmpanel.providers.service import map_service, set_provider_status
from smmpanel.simulator.testing import RunningSimulator
from tests.factories import make_provider
from tests.fulfilment.conftest import Relay, make_relay

START = to_units("100")
CHARGE_100 = to_units("0.09")  # 100 x 0.90 / 1000


def _balance(relay: Relay) -> int:
    return account_balance(relay.db, relay.customer.id)[0]


def _refunds(db: Database, order_id: int) -> list[int]:
    with db.read() as session:
        return list(
            session.scalars(
                select(LedgerEntry.amount).where(
                    LedgerEntry.order_id == order_id, LedgerEntry.kind == "refund"
                )
            )
        )


def test_forwarded_order_completes_without_refund(relay: Relay) -> None:
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.forward_state, order.status) == ("accepted", "Pending")
    upstream = relay.sim.control.order(int(order.provider_order_id or 0))
    assert upstream["link"] == "https://x.com/a" and upstream["quantity"] == 100
    relay.finish_upstream()
    order = relay.get(order_id)
    assert (order.status, order.remains) == ("Completed", 0)
    assert order.start_count is not None
    assert _balance(relay) == START - CHARGE_100
    assert _refunds(relay.db, order_id) == []
    assert relay.sim.control.links() == {"https://x.com/a": 1}


def test_partial_refunds_remains_exactly_once(relay: Relay) -> None:
    relay.sim.control.add_fault("partial", fraction=0.25)
    order_id = relay.order(quantity=1000)
    relay.run()
    relay.finish_upstream()
    relay.finish_upstream()  # a second pass must not refund again
    order = relay.get(order_id)
    assert (order.status, order.remains) == ("Partial", 250)
    assert _refunds(relay.db, order_id) == [to_units("0.225")]  # 250 x 0.90 / 1000
    assert _balance(relay) == START - to_units("0.9") + to_units("0.225")
    assert find_balance_mismatches(relay.db) == []


def test_upstream_cancel_refunds_the_whole_charge(relay: Relay) -> None:
    relay.sim.control.add_fault("cancel")
    order_id = relay.order()
    relay.run()
    relay.finish_upstream()
    assert relay.get(order_id).status == "Canceled"
    assert _refunds(relay.db, order_id) == [CHARGE_100]
    assert _balance(relay) == START


def test_definite_rejection_cancels_and_refunds(relay: Relay) -> None:
    relay.sim.control.add_fault("refuse", variant="link")
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Canceled", "rejected")
    assert _balance(relay) == START
    assert relay.sim.control.orders() == []


def test_provider_refusal_falls_back_to_the_next_provider(
    db: Database, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim, upstream_service="999")  # unknown upstream: refused
    make_provider(db, sim, "backup")
    map_service(db, service_id=relay.service_id, provider_name="backup", upstream_service_id="1")
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert order.forward_state == "accepted"
    with db.read() as session:
        backup = session.execute(select(Provider).where(Provider.name == "backup")).scalar_one()
    assert order.provider_id == backup.id
    assert len(sim.control.orders()) == 1


def test_not_enough_funds_pauses_provider_and_waits(relay: Relay) -> None:
    relay.sim.control.add_fault("no_funds", variant="key", count=1)
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "queued")
    assert _balance(relay) == START - CHARGE_100  # nothing refunded
    with relay.db.read() as session:
        provider = session.execute(select(Provider)).scalar_one()
        alerts = session.scalars(select(Alert.kind)).all()
    assert provider.status == "paused" and "not_enough_funds" in provider.paused_reason
    assert alerts == ["provider_paused"]
    set_provider_status(relay.db, name="sim", active=True)
    with relay.db.write() as session:  # the retry is backing off; make it due now
        from smmpanel.jobs.models import Job

        for job in session.scalars(select(Job).where(Job.status == "queued")):
            job.run_at = job.created_at
    relay.run()
    assert relay.get(order_id).forward_state == "accepted"
    assert len(relay.sim.control.orders()) == 1


def test_timeout_is_reconciled_by_lookup_never_resent(db: Database, sim: RunningSimulator) -> None:
    relay = make_relay(db, sim, dialect={"lookup_url": f"{sim.base_url}/_sim/orders"})
    sim.control.add_fault("timeout", variant="hold", seconds=3, count=1)
    order_id = relay.order()
    relay.run()  # the add times out; the reconcile job it queues adopts the order
    order = relay.get(order_id)
    assert (order.forward_state, order.status) == ("accepted", "Pending")
    assert _balance(relay) == START - CHARGE_100
    assert [o["id"] for o in sim.control.orders()] == [int(order.provider_order_id or 0)]
    with db.read() as session:
        outcomes = session.scalars(
            select(ProviderOrderRecord.outcome).order_by(ProviderOrderRecord.id)
        ).all()
    assert outcomes == ["unknown"]


def test_dropped_request_is_canceled_and_refunded_after_lookup(
    db: Database, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim, dialect={"lookup_url": f"{sim.base_url}/_sim/orders"})
    sim.control.add_fault("timeout", variant="drop", seconds=3, count=1)
    order_id = relay.order()
    relay.run()
    relay.run()
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Canceled", "rejected")
    assert _balance(relay) == START
    assert sim.control.orders() == []


def test_unknown_outcome_without_lookup_waits_for_the_owner(relay: Relay) -> None:
    relay.sim.control.add_fault("unreadable", variant="html", record=True, count=1)
    order_id = relay.order()
    relay.run()
    report = reconcile_orders(relay.db)
    assert order_id in report.waiting
    order = relay.get(order_id)
    assert (order.status, order.forward_state) == ("Pending", "reconcile")
    assert _balance(relay) == START - CHARGE_100
    with relay.db.read() as session:
        assert session.scalars(select(Alert.kind)).all() == ["reconcile"]
    assert len(relay.sim.control.orders()) == 1  # never resent


def test_dialect_quirks_are_understood(relay: Relay) -> None:
    relay.sim.control.add_fault("dialect")
    relay.sim.control.add_fault("cancel")
    order_id = relay.order()
    relay.run()
    relay.finish_upstream()
    assert relay.get(order_id).status == "Canceled"  # upstream said "Cancelled"
    assert _balance(relay) == START


def test_refill_round_trip(db: Database, sim: RunningSimulator) -> None:
    relay = make_relay(db, sim, refill=True)
    order_id = relay.order()
    relay.run()
    relay.finish_upstream()
    refill_id = request_refill(db, account_id=relay.customer.id, order_id=order_id)
    relay.run()
    with db.read() as session:
        refill = session.get(Refill, refill_id)
        assert refill is not None and refill.provider_request_id
        assert refill.status == "In progress"
    relay.finish_upstream()
    with db.read() as session:
        refill = session.get(Refill, refill_id)
        assert refill is not None and refill.status == "Completed"


def test_cancel_is_completed_when_the_upstream_confirms(
    db: Database, sim: RunningSimulator
) -> None:
    relay = make_relay(db, sim, cancel=True)
    order_id = relay.order()
    relay.run()
    cancel_id, kind = request_cancel(db, account_id=relay.customer.id, order_id=order_id)
    assert kind == "order"
    relay.run()
    with db.read() as session:
        cancel = session.get(Cancel, cancel_id)
        assert cancel is not None and cancel.status == "Pending" and cancel.provider_request_id
    relay.finish_upstream()
    with db.read() as session:
        cancel = session.get(Cancel, cancel_id)
        assert cancel is not None and cancel.status == "Completed"
    assert relay.get(order_id).status == "Canceled"
    assert _balance(relay) == START


def test_cancel_before_forwarding_is_immediate(db: Database, sim: RunningSimulator) -> None:
    relay = make_relay(db, sim, cancel=True)
    order_id = relay.order()
    request_cancel(db, account_id=relay.customer.id, order_id=order_id)
    relay.run()
    assert relay.get(order_id).status == "Canceled"
    assert sim.control.orders() == []
    assert _balance(relay) == START


def test_money_is_exact_decimal_everywhere(relay: Relay) -> None:
    order_id = relay.order(quantity=333)
    relay.run()
    assert relay.get(order_id).charge == to_units(Decimal("0.2997"))


def test_slow_answer_within_the_timeout_is_accepted_normally(relay: Relay) -> None:
    relay.sim.control.add_fault("slow", seconds=0.5, count=1)  # the client waits 1 s
    order_id = relay.order()
    relay.run()
    order = relay.get(order_id)
    assert (order.forward_state, order.status) == ("accepted", "Pending")
    assert len(relay.sim.control.orders()) == 1


@pytest.mark.parametrize("variant", ["html", "empty", "truncated"])
@pytest.mark.parametrize("recorded", [True, False])
def test_unreadable_answers_are_reconciled_by_lookup(
    db: Database, sim: RunningSimulator, variant: str, recorded: bool
) -> None:
    relay = make_relay(db, sim, dialect={"lookup_url": f"{sim.base_url}/_sim/orders"})
    sim.control.add_fault("unreadable", variant=variant, record=recorded, count=1)
    order_id = relay.order()
    relay.run()  # the unreadable answer queues reconciliation, which runs next
    order = relay.get(order_id)
    if recorded:  # the upstream has it: adopted, never sent again
        assert (order.status, order.forward_state) == ("Pending", "accepted")
        assert [o["id"] for o in sim.control.orders()] == [int(order.provider_order_id or 0)]
        assert _balance(relay) == START - CHARGE_100
    else:  # it surely has none: canceled and refunded
        assert (order.status, order.forward_state) == ("Canceled", "rejected")
        assert sim.control.orders() == []
        assert _balance(relay) == START
    assert find_balance_mismatches(db) == []
