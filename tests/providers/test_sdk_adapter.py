"""The SDK adapter against the real simulator: each call gives the panel's own
result types, and each kind of failure the panel's own error."""

from __future__ import annotations

import socket
from dataclasses import replace
from decimal import Decimal

import pytest

from smmpanel.db import Database
from smmpanel.providers.catalog_sync_upstream import provider_access
from smmpanel.providers.gateway import ProviderAccess, open_upstream
from smmpanel.providers.upstream import (
    CatalogEntry,
    UpstreamBalance,
    UpstreamOrderStatus,
    UpstreamOutcomeUnknown,
    UpstreamRefused,
    UpstreamRequest,
    UpstreamRequestStatus,
    UpstreamUnreachable,
    UpstreamUnreadable,
)
from smmpanel.simulator.testing import RunningSimulator

LINK = "https://instagram.com/adapter"


@pytest.fixture
def access(db: Database, provider: str) -> ProviderAccess:
    return provider_access(db, provider)


def test_catalog_and_balance_are_the_panels_types(
    access: ProviderAccess, sim: RunningSimulator
) -> None:
    sim.control.set_balance("12.34567")
    with open_upstream(access) as upstream:
        entries = upstream.services()
        balance = upstream.balance()
    assert all(type(entry) is CatalogEntry for entry in entries)
    first = entries[0]
    assert (first.service, first.type, first.rate, first.min, first.max) == (
        1,
        "Default",
        Decimal("0.90"),
        50,
        10000,
    )
    assert (first.refill, first.cancel, first.category) == (True, True, "Instagram Followers")
    assert first.raw["name"] == first.name
    assert balance == UpstreamBalance(Decimal("12.34567"), "USD")


def test_orders_their_statuses_refills_and_cancels(
    access: ProviderAccess, sim: RunningSimulator
) -> None:
    with open_upstream(access) as upstream:
        first = upstream.add(1, link=LINK, quantity=100)
        second = upstream.add("2", link=LINK + "/2", quantity=100)
        assert (first, second) == ("1", "2")
        status = upstream.status(1)
        assert type(status) is UpstreamOrderStatus
        assert (status.order_id, status.status, status.remains) == (1, "Pending", 100)
        assert status.charge == Decimal("0.09") and status.error is None
        sim.control.set_status(order=1, status="Completed", remains=0)
        listed = upstream.statuses([1, 2, 99])
        assert [(s.order_id, s.status) for s in listed] == [
            (1, "Completed"),
            (2, "Pending"),
            (99, None),
        ]
        assert listed[2].error == "Incorrect order ID"

        refill = upstream.refill(1)
        assert refill == UpstreamRequest(order_id=1, request_id=1, error=None)
        assert upstream.refill_statuses([1]) == [UpstreamRequestStatus(1, "Pending")]

        canceled = upstream.cancel([2, 99])
        assert canceled[0] == UpstreamRequest(order_id=2, request_id=1, error=None)
        assert (canceled[1].request_id, canceled[1].error) == (None, "Incorrect order ID")
        sim.control.set_status(cancel=1, status="Rejected")
        assert upstream.cancel_statuses([1]) == [UpstreamRequestStatus(1, "Rejected")]


def test_a_refusal_is_upstream_refused_with_its_code(access: ProviderAccess) -> None:
    with open_upstream(access) as upstream, pytest.raises(UpstreamRefused) as refused:
        upstream.add(999, link=LINK, quantity=100)
    assert (refused.value.code, refused.value.message) == (
        "incorrect_service",
        "Incorrect service ID",
    )
    wrong_key = replace(access, api_key="wrong-key-Zq7xT1vN9pL3sR8dK2mW")
    with open_upstream(wrong_key) as upstream, pytest.raises(UpstreamRefused) as refused:
        upstream.balance()
    assert refused.value.code == "invalid_key"
    assert "Zq7xT1" not in str(refused.value)


def test_no_connection_is_unreachable_with_nothing_sent(access: ProviderAccess) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens
    closed = replace(access, api_url=f"http://127.0.0.1:{port}/api/v2")
    with open_upstream(closed) as upstream, pytest.raises(UpstreamUnreachable) as failed:
        upstream.balance()
    assert failed.value.nothing_sent is True and failed.value.status_code is None
    assert not isinstance(failed.value, UpstreamOutcomeUnknown)


def test_a_lost_add_is_outcome_unknown(access: ProviderAccess, sim: RunningSimulator) -> None:
    sim.control.add_fault("timeout", count=1, seconds=2.0)
    with (
        open_upstream(access, timeout=0.3) as upstream,
        pytest.raises(UpstreamOutcomeUnknown) as lost,
    ):
        upstream.add(1, link=LINK, quantity=100)
    assert lost.value.nothing_sent is False
    assert [o["link"] for o in sim.control.orders()] == [LINK]  # it did reach the upstream


def test_an_unreadable_answer_is_upstream_unreadable(
    access: ProviderAccess, sim: RunningSimulator
) -> None:
    sim.control.add_fault("unreadable", count=5, variant="truncated")
    with open_upstream(access) as upstream, pytest.raises(UpstreamUnreadable):
        upstream.balance()
