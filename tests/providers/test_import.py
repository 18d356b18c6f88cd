"""Importing upstream services with a markup, against a real simulator."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest

from smmpanel.accounts.service import set_currency_rate
from smmpanel.catalog.models import Service, ServiceSource
from smmpanel.db import Database
from smmpanel.money import to_units
from smmpanel.providers.catalog_sync import import_provider_services
from smmpanel.providers.errors import InvalidProvider, ProviderNotFound
from smmpanel.providers.models import Provider
from smmpanel.providers.service import map_service
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_provider, make_service
from tests.providers.helpers import category_of, count, service, sources, upstream_rates

CENT = Decimal("0.01")


def test_import_with_a_percent_markup_rounds_up(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    result = import_provider_services(
        db, provider_name=provider, markup_percent="25%", round_places=2
    )
    upstream = upstream_rates(sim)
    assert [c.upstream_id for c in result.created] == [str(i) for i in range(1, 23)]
    assert result.already_imported == {} and result.failed == {} and result.not_found == []
    assert result.catalog.appeared == [str(i) for i in range(1, 23)]
    rates = {c.upstream_id: c.rate for c in result.created}
    assert rates["1"] == Decimal("1.13")  # 0.90 x 1.25 = 1.125, rounded up
    assert rates["2"] == Decimal("0.32")  # 0.3125
    assert rates["5"] == Decimal("0.02")  # 0.0123 x 1.25 = 0.015375
    assert rates["6"] == Decimal("3.75")  # exact
    for created in result.created:
        cost = upstream[created.upstream_id]
        expected = (cost * Decimal("1.25")).quantize(CENT, rounding=ROUND_CEILING)
        assert created.upstream_rate == cost
        assert created.rate == expected >= cost * Decimal("1.25")
        assert service(db, created.service_id).rate == to_units(expected)


def test_imported_service_copies_the_upstream_definition(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    result = import_provider_services(
        db, provider_name=provider, markup_percent="25", upstream_ids=["1", "7"]
    )
    followers, comments = (c.service_id for c in result.created)
    row = service(db, followers)
    assert (row.name, row.type, row.min_quantity, row.max_quantity) == (
        "Instagram Followers [Refill 30 days]",
        "Default",
        50,
        10_000,
    )
    assert (row.dripfeed, row.refill, row.cancel, row.enabled) == (True, True, True, True)
    assert category_of(db, followers) == "Instagram Followers"
    assert service(db, comments).type == "Custom Comments"
    (source,) = sources(db, followers)
    assert source.upstream_service_id == "1"
    assert source.priority == 1
    assert (source.markup_percent, source.markup_fixed, source.round_places) == ("25", 0, 2)
    with db.read() as session:
        provider_id = session.query(Provider.id).filter(Provider.name == provider).scalar()
    assert source.provider_id == provider_id


def test_fixed_markup(db: Database, sim: RunningSimulator, provider: str) -> None:
    result = import_provider_services(
        db, provider_name=provider, markup_fixed="0.1", round_places=5, upstream_ids=["1", "5"]
    )
    assert [(c.upstream_id, c.rate) for c in result.created] == [
        ("1", Decimal("1.00")),
        ("5", Decimal("0.1123")),
    ]
    (source,) = sources(db, result.created[0].service_id)
    assert (source.markup_percent, source.markup_fixed, source.round_places) == ("0", 10_000, 5)

    make_provider(db, sim, "up2")
    both = import_provider_services(
        db,
        provider_name="up2",
        markup_percent=Decimal("10"),
        markup_fixed=Decimal("0.05"),
        round_places=3,
        upstream_ids=["5"],
    )
    # 0.0123 x 1.10 + 0.05 = 0.06353, rounded up to 3 places.
    assert [c.rate for c in both.created] == [Decimal("0.064")]
    assert service(db, both.created[0].service_id).rate == 6_400


def test_category_and_id_filters(db: Database, sim: RunningSimulator, provider: str) -> None:
    mentions = import_provider_services(
        db, provider_name=provider, category="Instagram Mentions", markup_percent="20"
    )
    assert [c.upstream_id for c in mentions.created] == ["9", "10", "11", "12", "13", "14"]
    assert {category_of(db, c.service_id) for c in mentions.created} == {"Instagram Mentions"}
    # 4.00 x 1.20 = 4.80 exactly.
    assert mentions.created[0].rate == Decimal("4.80")

    likes = import_provider_services(
        db, provider_name=provider, category="Instagram Likes", upstream_ids=["1", "2", "999"]
    )
    assert [c.upstream_id for c in likes.created] == ["2"]
    assert likes.not_found == ["999"]
    assert count(db, Service) == 7


def test_reimport_skips_services_already_mapped(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    first = import_provider_services(db, provider_name=provider, category="Instagram Likes")
    (likes,) = first.created
    hand_made = make_service(db, name="My views", rate="2.00")
    map_service(db, service_id=hand_made, provider_name=provider, upstream_service_id="3")

    again = import_provider_services(db, provider_name=provider, markup_percent="25")
    assert again.already_imported == {"2": likes.service_id, "3": hand_made}
    assert len(again.created) == 20
    assert count(db, Service) == 22
    assert count(db, ServiceSource) == 22
    assert service(db, hand_made).rate == 200_000  # the owner's price is kept
    assert import_provider_services(db, provider_name=provider).created == []


def test_upstream_in_another_currency_is_converted(db: Database) -> None:
    with running_simulator(manual_clock=True, currency="EUR") as eur:
        make_provider(db, eur, "euro")
        with pytest.raises(InvalidProvider, match="EUR"):
            import_provider_services(db, provider_name="euro", markup_percent="25")
        assert count(db, Service) == 0
        set_currency_rate(db, code="EUR", rate="0.5")  # 0.5 EUR per USD
        result = import_provider_services(
            db, provider_name="euro", markup_percent="25", upstream_ids=["1"]
        )
    # 0.90 EUR = 1.80 USD, + 25% = 2.25 USD.
    assert [(c.upstream_rate, c.rate) for c in result.created] == [
        (Decimal("0.90"), Decimal("2.25"))
    ]
    with db.read() as session:
        row = session.query(Provider).filter(Provider.name == "euro").one()
        assert row.currency == "EUR"


def test_invalid_markup_or_provider_creates_nothing(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    with pytest.raises(InvalidProvider):
        import_provider_services(db, provider_name=provider, round_places=6)
    with pytest.raises(InvalidProvider):
        import_provider_services(db, provider_name=provider, markup_percent="-10")
    with pytest.raises(ProviderNotFound):
        import_provider_services(db, provider_name="nobody")
    assert count(db, Service) == 0


def test_unusable_upstream_entries_are_reported(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    sim.control.catalog(service=3, type="Story Views Deluxe")
    sim.control.catalog(service=4, min=0)
    result = import_provider_services(db, provider_name=provider, upstream_ids=["3", "4"])
    assert [c.upstream_id for c in result.created] == ["3"]
    assert result.unknown_type == ["3"]
    assert service(db, result.created[0].service_id).type == "Default"
    assert list(result.failed) == ["4"]
    assert "min" in result.failed["4"]
