"""Keeping imported prices in sync with the upstream catalog."""

from __future__ import annotations

from decimal import Decimal

from smmpanel.db import Database
from smmpanel.providers.catalog_sync import (
    RateChange,
    import_provider_services,
    sync_prices,
    sync_prices_job,
)
from smmpanel.providers.models import Provider
from smmpanel.providers.service import add_provider, map_service
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_provider, make_service
from tests.providers.helpers import service, upstream_row


def _import(db: Database, provider: str, *upstream_ids: str) -> list[int]:
    result = import_provider_services(
        db, provider_name=provider, markup_percent="25", upstream_ids=list(upstream_ids)
    )
    return [c.service_id for c in result.created]


def test_sync_updates_only_marked_up_services(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    followers, likes, views = _import(db, provider, "1", "2", "3")
    by_hand = make_service(db, name="My followers", rate="5.00")
    map_service(db, service_id=by_hand, provider_name=provider, upstream_service_id="1")
    sim.control.catalog(service=1, rate="1.00")
    sim.control.catalog(service=2, rate="0.333")

    report = sync_prices(db, provider_name=provider)

    assert report.providers == [provider]
    assert report.changed == [
        RateChange(followers, Decimal("1.13"), Decimal("1.25")),
        RateChange(likes, Decimal("0.32"), Decimal("0.42")),  # 0.41625 rounded up
    ]
    assert report.unchanged == [views]
    assert report.manual == [by_hand]
    assert report.disabled == [] and report.back == [] and report.errors == {}
    assert [(r.id, r.old_rate, r.new_rate) for r in report.catalogs[0].rate_changed] == [
        ("1", Decimal("0.9"), Decimal("1")),
        ("2", Decimal("0.25"), Decimal("0.333")),
    ]
    assert service(db, followers).rate == 125_000
    assert service(db, likes).rate == 42_000
    assert service(db, views).rate == 188_000  # 1.50 x 1.25 = 1.875 -> 1.88
    assert service(db, by_hand).rate == 500_000
    assert upstream_row(db, provider, "2").rate == 33_300

    again = sync_prices(db)
    assert again.changed == []
    assert again.unchanged == [followers, likes, views]
    assert again.manual == [by_hand]


def test_removed_upstream_disables_and_its_return_is_reported(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    followers, likes = _import(db, provider, "1", "2")
    sim.control.catalog(remove=1)

    report = sync_prices(db)

    assert report.disabled == [followers]
    assert report.unchanged == [likes]
    assert report.catalogs[0].disappeared == ["1"]
    assert service(db, followers).enabled is False
    assert service(db, likes).enabled is True
    assert upstream_row(db, provider, "1").gone is True

    quiet = sync_prices(db)
    assert quiet.disabled == [] and quiet.back == []
    assert quiet.unchanged == [followers, likes]

    sim.control.catalog(reset=True)
    back = sync_prices(db)
    assert back.back == [followers]
    assert back.catalogs[0].returned == ["1"]
    assert service(db, followers).enabled is False  # never re-enabled automatically
    assert upstream_row(db, provider, "1").gone is False
    assert sync_prices(db).back == []  # reported once, when it comes back


def test_a_second_available_source_keeps_the_service_enabled(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    (followers,) = _import(db, provider, "1")
    with running_simulator(manual_clock=True) as other:
        make_provider(db, other, "other")
        map_service(
            db,
            service_id=followers,
            provider_name="other",
            upstream_service_id="4",
            markup_percent="50",
            round_places=2,
        )
        sim.control.catalog(remove=1)
        report = sync_prices(db)
    assert report.providers == [provider, "other"]
    assert report.disabled == []
    assert service(db, followers).enabled is True
    # The next source by priority now sets the price: 2.10 x 1.5 = 3.15.
    assert report.changed == [RateChange(followers, Decimal("1.13"), Decimal("3.15"))]
    assert service(db, followers).rate == 315_000


def test_a_hand_priced_fallback_keeps_its_rate(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    (followers,) = _import(db, provider, "1")
    with running_simulator(manual_clock=True) as other:
        make_provider(db, other, "other")
        map_service(db, service_id=followers, provider_name="other", upstream_service_id="4")
        sim.control.catalog(remove=1)
        report = sync_prices(db)
    assert report.disabled == [] and report.changed == []
    assert report.manual == [followers]
    assert service(db, followers).enabled is True
    assert service(db, followers).rate == 113_000


def test_an_unreachable_provider_is_skipped_when_syncing_all(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    (followers,) = _import(db, provider, "1")
    add_provider(db, name="broken", api_url=sim.api_url, api_key="not-the-right-key-0123456789")
    sim.control.catalog(service=1, rate="2.00")
    report = sync_prices(db)
    assert report.providers == [provider]
    assert list(report.errors) == ["broken"]
    assert "Invalid API key" in report.errors["broken"]
    assert "not-the-right-key-0123456789" not in report.errors["broken"]
    assert report.changed == [RateChange(followers, Decimal("1.13"), Decimal("2.50"))]


def test_the_job_handler_syncs_one_provider(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    (followers,) = _import(db, provider, "1")
    sim.control.catalog(service=1, rate="0.80")
    with db.read() as session:
        provider_id = session.query(Provider.id).filter(Provider.name == provider).scalar()
    sync_prices_job(db, {"provider_id": provider_id})
    assert service(db, followers).rate == 100_000  # 0.80 x 1.25
    sync_prices_job(db, {"provider_id": 9999})  # gone provider: nothing to do
    sync_prices_job(db, {})
    assert service(db, followers).rate == 100_000


def test_a_source_whose_catalog_was_never_read_counts_as_available(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    (followers,) = _import(db, provider, "1")
    add_provider(db, name="later", api_url="http://127.0.0.1:9/api/v2", api_key="k" * 20)
    map_service(db, service_id=followers, provider_name="later", upstream_service_id="77")
    sim.control.catalog(remove=1)
    report = sync_prices(db, provider_name=provider)
    # Nothing is known of "later" yet: not a reason to stop selling.
    assert report.disabled == []
    assert report.manual == [followers]
    assert service(db, followers).enabled is True
