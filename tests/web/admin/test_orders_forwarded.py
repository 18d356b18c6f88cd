"""The admin's orders pages for orders forwarded to a provider (a real simulator
over HTTP): the upstream calls and answers on the order's page beside its
ledger entries, the provider and forwarding filters, the search by upstream
id, and the forwarding actions (resend, mark for reconciliation, adopt)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from smmpanel.db import Database
from smmpanel.jobs.models import Job
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.forwarding_states import ForwardState, move_forward_state
from smmpanel.orders.lifecycle import lock_order
from smmpanel.providers.models import Provider
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_order, make_service
from tests.fulfilment.conftest import make_relay
from tests.web.admin.test_orders import listed
from tests.web.admin.test_orders_actions import act, audit_of, bulk, order_of, refunds
from tests.web.admin_helpers import staff_browser


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


def _fail(db: Database, order_id: int) -> None:
    """What a forward job that gave up leaves (forwarding.forward_failed) after
    its provider "sim" had refused it once (so the order names that provider)."""
    with db.write() as session:
        order = lock_order(session, order_id)
        order.provider_id = session.scalars(select(Provider.id).where(Provider.name == "sim")).one()
        move_forward_state(session, order=order, to=ForwardState.FAILED, actor="test")


def test_a_forwarded_order_shows_its_calls_and_ledger(
    db: Database, sim: RunningSimulator, browser_factory: Any
) -> None:
    relay = make_relay(db, sim)
    manual = make_order(db, relay.customer, make_service(db, name="By hand"))
    order_id = relay.order(link="https://x.com/forwarded")
    relay.run()
    upstream = relay.get(order_id).provider_order_id
    assert upstream
    owner = staff_browser(db, browser_factory)
    page = owner.get(f"/admin/orders/{order_id}").text
    calls = page[page.index('id="calls"') : page.index("<h2>Ledger</h2>")]
    assert "<td>sim</td><td>add</td>" in calls and f"upstream order {upstream}" in calls
    assert '<td class="outcome">accepted</td>' in calls
    ledger = page[page.index('id="ledger"') : page.index("<h2>Refills and cancels</h2>")]
    assert ledger.count("<tr data-entry=") == 1 and '<td class="kind">charge</td>' in ledger
    assert '<td class="amount">-0.09000</td>' in ledger  # 100 at 0.90 per 1000
    assert 'id="upstream-id">' + upstream in page
    events = page[page.index('id="events"') : page.index("<h2>Upstream calls</h2>")]
    assert "queued → sending" in events and "sending → accepted" in events
    assert 'id="form-resend"' not in page and 'id="form-adopt"' not in page
    with db.read() as session:
        provider_id = session.scalars(select(Provider.id).where(Provider.name == "sim")).one()
    assert listed(owner, f"provider={provider_id}") == [order_id]
    assert listed(owner, "forwarding=accepted") == [order_id]
    assert listed(owner, "forwarding=manual") == [manual]
    by_upstream = {order_id} | ({int(upstream)} & {manual, order_id})
    assert set(listed(owner, f"q={upstream}")) == by_upstream
    refused = act(owner, order_id, "adopt", upstream_id="999")
    assert refused.status_code == 400 and "accepted at its provider already" in refused.text
    assert relay.get(order_id).provider_order_id == upstream
    relay.finish_upstream()
    done = owner.get(f"/admin/orders/{order_id}").text
    assert '<dd id="status">Completed</dd>' in done


def test_resend_reconcile_and_adopt(
    db: Database, sim: RunningSimulator, browser_factory: Any
) -> None:
    relay = make_relay(db, sim)
    order_id = relay.order()  # queued: no worker has run
    owner = staff_browser(db, browser_factory, username="olga")
    page = owner.get(f"/admin/orders/{order_id}").text
    assert 'id="form-resend"' in page and 'id="form-adopt"' in page
    assert 'id="form-reconcile"' not in page
    assert act(owner, order_id, "resend").status_code == 303
    assert relay.get(order_id).forward_state == "queued"
    not_failed = act(owner, order_id, "reconcile")
    assert not_failed.status_code == 400 and "whose forwarding failed" in not_failed.text
    _fail(db, order_id)
    assert 'id="form-reconcile"' in owner.get(f"/admin/orders/{order_id}").text
    assert act(owner, order_id, "reconcile").status_code == 303
    assert relay.get(order_id).forward_state == "reconcile"
    with db.read() as session:
        jobs = session.scalars(select(Job.dedupe_key).where(Job.kind == "reconcile_order"))
        assert list(jobs) == [f"reconcile:{order_id}"]
    spaced = act(owner, order_id, "adopt", upstream_id="12 34")
    assert spaced.status_code == 400 and "An upstream order id has no spaces." in spaced.text
    assert act(owner, order_id, "adopt", upstream_id="U-77").status_code == 303
    order = order_of(db, order_id)
    assert (order.forward_state, order.provider_order_id) == ("accepted", "U-77")
    assert audit_of(db, order_id) == [
        ("staff:olga", "order_resent"),
        ("staff:olga", "order_marked_for_reconciliation"),
        ("staff:olga", "order_adopted_by_hand"),
    ]
    assert act(owner, order_id, "adopt", upstream_id="U-78").status_code == 400
    # In bulk: each order through the same command, refusals named.
    failed = [relay.order(link=f"https://x.com/f{n}") for n in range(2)]
    for failed_id in failed:
        _fail(db, failed_id)
    summary = owner.get(bulk(owner, [*failed, order_id], "resend").headers["location"]).text
    assert "2 done, 1 refused" in summary and "accepted at its provider already" in summary
    assert [relay.get(i).forward_state for i in failed] == ["queued", "queued"]
    relay.run()
    assert [relay.get(i).forward_state for i in failed] == ["accepted", "accepted"]


def test_a_failed_order_marked_for_reconciliation_is_looked_up(
    db: Database, sim: RunningSimulator, browser_factory: Any
) -> None:
    """The simulator offers a look-up: it has no such order, so reconciliation
    cancels and refunds it, once."""
    relay = make_relay(db, sim, dialect={"lookup_url": f"{sim.base_url}/_sim/orders"})
    never_chosen = relay.order(link="https://x.com/never")
    order_id = relay.order(link="https://x.com/lost")
    with db.write() as session:  # as a run that found no provider left them
        for queued in (never_chosen, order_id):
            move_forward_state(
                session, order=lock_order(session, queued), to=ForwardState.FAILED, actor="t"
            )
    owner = staff_browser(db, browser_factory)
    refused = act(owner, never_chosen, "reconcile")
    assert refused.status_code == 400 and "never sent to a provider" in refused.text
    _fail(db, order_id)
    assert act(owner, order_id, "reconcile").status_code == 303
    relay.run()
    order = order_of(db, order_id)
    assert (order.status, order.forward_state) == ("Canceled", "rejected")
    assert refunds(db, order_id) == [9_000]  # 100 at 0.90 per 1000: all of it
    assert sim.control.orders() == [] and find_balance_mismatches(db) == []
