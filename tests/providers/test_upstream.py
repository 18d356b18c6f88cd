"""Reading a provider's balance and catalog; failures never show the key."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from smmpanel.db import Database
from smmpanel.providers.catalog_sync import (
    RateChange,
    fetch_provider_balance,
    import_provider_services,
    refresh_upstream_catalog,
    sync_prices,
)
from smmpanel.providers.errors import ProviderUnavailable
from smmpanel.providers.models import Provider, UpstreamService
from smmpanel.providers.service import add_provider
from smmpanel.simulator.testing import RunningSimulator
from tests.providers.helpers import upstream_row

WRONG_KEY = "wrong-key-Zq7xT1vN9pL3sR8dK2mW"


def _provider(db: Database, name: str) -> Provider:
    with db.read() as session:
        return session.query(Provider).filter(Provider.name == name).one()


def test_balance_is_fetched_and_stored_exactly(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    sim.control.set_balance("123.45678")
    assert fetch_provider_balance(db, provider_name=provider) == (Decimal("123.45678"), "USD")
    row = _provider(db, provider)
    assert (row.balance, row.currency) == (12_345_678, "USD")
    assert row.balance_checked_at is not None


def test_refresh_stores_the_catalog_and_reports_the_diff(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    first = refresh_upstream_catalog(db, provider_name=provider)
    assert first.listed == 22
    assert first.appeared == [str(i) for i in range(1, 23)]
    tiktok = upstream_row(db, provider, "5")
    assert (tiktok.rate, tiktok.type, tiktok.category) == (1_230, "Default", "TikTok Views")
    assert (tiktok.min_quantity, tiktok.max_quantity, tiktok.cancel) == (100, 10_000_000, True)

    sim.control.catalog(service=2, rate="0.30")
    sim.control.catalog(service=7, type="  custom COMMENTS ")
    sim.control.catalog(service=3, type="Story Views Deluxe")
    sim.control.catalog(remove=4)
    sim.control.catalog(
        service=30, name="New", type="Default", category="New", rate="1", min=1, max=10
    )
    second = refresh_upstream_catalog(db, provider_name=provider)
    assert second.appeared == ["30"]
    assert second.disappeared == ["4"]
    assert second.returned == []
    assert second.rate_changed == [RateChange("2", Decimal("0.25"), Decimal("0.3"))]
    assert upstream_row(db, provider, "7").type == "Custom Comments"
    odd = upstream_row(db, provider, "3")
    assert odd.type == "Default"
    assert odd.raw["type"] == "Story Views Deluxe"
    assert upstream_row(db, provider, "4").gone is True

    sim.control.catalog(reset=True)
    third = refresh_upstream_catalog(db, provider_name=provider)
    assert third.returned == ["4"]
    assert third.disappeared == ["30"]


def test_an_empty_answer_marks_nothing_gone(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    refresh_upstream_catalog(db, provider_name=provider)
    sim.control.catalog(remove=list(range(1, 23)))
    with pytest.raises(ProviderUnavailable, match="listed no services"):
        refresh_upstream_catalog(db, provider_name=provider)
    with db.read() as session:
        assert session.query(UpstreamService).filter(UpstreamService.gone.is_(True)).count() == 0


def test_a_wrong_key_raises_without_showing_the_key(db: Database, sim: RunningSimulator) -> None:
    add_provider(db, name="bad", api_url=sim.api_url, api_key=WRONG_KEY)
    calls = [
        lambda: fetch_provider_balance(db, provider_name="bad"),
        lambda: refresh_upstream_catalog(db, provider_name="bad"),
        lambda: import_provider_services(db, provider_name="bad", markup_percent="25"),
        lambda: sync_prices(db, provider_name="bad"),
    ]
    for call in calls:
        with pytest.raises(ProviderUnavailable) as info:
            call()
        message = str(info.value)
        assert WRONG_KEY not in message and WRONG_KEY not in repr(info.value)
        assert "Invalid API key" in message and "'bad'" in message
        assert info.value.__cause__ is None
    row = _provider(db, "bad")
    assert row.balance is None and row.balance_checked_at is None
    with db.read() as session:
        assert session.query(UpstreamService).count() == 0


def test_an_unreachable_provider_raises_without_showing_the_key(db: Database) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    add_provider(db, name="down", api_url=f"http://127.0.0.1:{port}/api/v2", api_key=WRONG_KEY)
    with pytest.raises(ProviderUnavailable) as info:
        refresh_upstream_catalog(db, provider_name="down")
    assert WRONG_KEY not in str(info.value)
    assert f"127.0.0.1:{port}/api/v2" in str(info.value)
