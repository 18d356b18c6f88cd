"""The provider commands the web admin added: editing a provider (the key
replaced, never shown), an import's dry run and digest, and the price review
and its apply from the catalogues as last read."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.catalog.models import Service
from smmpanel.db import Database
from smmpanel.providers.catalog_sync import (
    ImportResult,
    RateChange,
    import_provider_services,
    read_provider_catalog,
)
from smmpanel.providers.errors import InvalidProvider, InvalidProviderUrl, ProviderNotFound
from smmpanel.providers.import_plan import ImportPlanChanged
from smmpanel.providers.models import Provider
from smmpanel.providers.price_sync import apply_reviewed_prices, review_prices
from smmpanel.providers.service import edit_provider
from smmpanel.secretbox import reveal_secret
from smmpanel.simulator.testing import RunningSimulator
from tests.factories import make_service
from tests.providers.helpers import count, service

STAFF = Actor.staff("olga")


def _provider(db: Database) -> Provider:
    with db.read() as session:
        provider = session.scalars(select(Provider)).one()
        session.expunge(provider)
        return provider


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_edit_keeps_what_is_not_given_and_replaces_the_key(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    edit_provider(db, name=provider, dialect={"lookup_url": sim.api_url + "/lookup"}, actor=STAFF)
    edit_provider(db, name=provider, method="json", dialect={"timeout": 3.0}, actor=STAFF)
    first = _provider(db)
    assert (first.api_url, first.method) == (sim.api_url, "json")
    assert first.dialect == {"lookup_url": sim.api_url + "/lookup", "timeout": 3.0}
    assert reveal_secret(first.api_key) == sim.key

    edit_provider(db, name=provider, dialect={"lookup_url": ""}, api_key=" new-key ", actor=STAFF)
    second = _provider(db)
    assert second.dialect == {"timeout": 3.0} and reveal_secret(second.api_key) == "new-key"
    with db.read() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "provider_changed")
        ).all()
    assert [row.actor for row in rows] == ["staff:olga"] * 3
    assert json.loads(rows[2].details)["after"] == {
        "api_url": sim.api_url, "method": "json", "timeout": 3.0, "new_key": True,
    }  # fmt: skip
    assert "new-key" not in rows[2].details and sim.key not in rows[2].details


def test_edit_refusals_change_nothing(db: Database, sim: RunningSimulator, provider: str) -> None:
    before = _provider(db)
    with pytest.raises(InvalidProviderUrl, match="provider's own host"):
        edit_provider(db, name=provider, dialect={"lookup_url": "http://x.example/"}, actor=STAFF)
    with pytest.raises(InvalidProvider, match="http"):
        edit_provider(db, name=provider, api_url="ftp://x.example/", actor=STAFF)
    with pytest.raises(InvalidProvider, match="method"):
        edit_provider(db, name=provider, method="put", actor=STAFF)
    with pytest.raises(InvalidProvider, match="printable"):
        edit_provider(db, name=provider, api_key="two words", actor=STAFF)
    with pytest.raises(ProviderNotFound):
        edit_provider(db, name="nobody", method="get", actor=STAFF)
    after = _provider(db)
    assert (after.api_url, after.method, after.dialect, after.api_key) == (
        before.api_url, before.method, before.dialect, before.api_key,
    )  # fmt: skip


def test_a_dry_run_plans_exactly_what_the_import_creates(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    with pytest.raises(InvalidProvider, match="refresh its balance first"):
        import_provider_services(db, provider_name=provider, refresh=False, dry_run=True)
    read_provider_catalog(db, provider_name=provider)
    audited = _audit_count(db)

    def plan_import(**more: Any) -> ImportResult:
        return import_provider_services(
            db, provider_name=provider, markup_percent="30", round_places=2, refresh=False,
            category="Instagram Mentions", into_category="Mentions", **more,
        )  # fmt: skip

    plan = plan_import(dry_run=True)

    assert count(db, Service) == 0 and _audit_count(db) == audited
    assert [p.upstream_id for p in plan.planned][:3] == ["9", "10", "11"]
    assert [p.rate for p in plan.planned][:3] == [Decimal("5.20"), Decimal("6.50"), Decimal("7.80")]
    with pytest.raises(InvalidProvider, match="refresh=False"):
        import_provider_services(db, provider_name=provider, dry_run=True)

    done = plan_import(expect_digest=plan.digest, upstream_ids=["9", "11"], actor=STAFF)
    assert [(c.upstream_id, c.rate) for c in done.created] == [
        ("9", Decimal("5.20")), ("11", Decimal("7.80")),
    ]  # fmt: skip
    assert [p.upstream_id for p in done.planned] == ["9", "11"]
    assert done.digest == plan.digest  # of all offered, before the choice
    assert {p.category for p in plan.planned} == {"Mentions"}


def test_a_stale_digest_refuses_the_import(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    read_provider_catalog(db, provider_name=provider)
    plan = import_provider_services(db, provider_name=provider, refresh=False, dry_run=True)
    same = import_provider_services(db, provider_name=provider, refresh=False, dry_run=True)
    assert same.digest == plan.digest
    other_markup = import_provider_services(
        db, provider_name=provider, refresh=False, dry_run=True, markup_percent="1"
    )
    assert other_markup.digest != plan.digest
    sim.control.catalog(service=1, rate="0.95")
    read_provider_catalog(db, provider_name=provider)
    with pytest.raises(ImportPlanChanged):
        import_provider_services(
            db, provider_name=provider, refresh=False, expect_digest=plan.digest, actor=STAFF
        )
    assert count(db, Service) == 0


def test_review_reads_and_apply_reprices_the_chosen_services(
    db: Database, sim: RunningSimulator, provider: str
) -> None:
    created = import_provider_services(
        db, provider_name=provider, markup_percent="25", upstream_ids=["1", "2", "3"]
    ).created
    followers, likes, views = (c.service_id for c in created)
    by_hand = make_service(db, rate="5.00")
    assert review_prices(db).changed == []
    sim.control.catalog(service=1, rate="1.00")
    sim.control.catalog(service=2, rate="0.333")
    sim.control.catalog(remove=3)
    read_provider_catalog(db, provider_name=provider)
    audited = _audit_count(db)

    report = review_prices(db, provider_name=provider)

    assert report.changed == [
        RateChange(followers, Decimal("1.13"), Decimal("1.25")),
        RateChange(likes, Decimal("0.32"), Decimal("0.42")),
    ]
    assert report.disabled == [views] and by_hand not in report.unchanged + report.manual
    assert service(db, followers).rate == 113_000 and service(db, views).enabled
    assert _audit_count(db) == audited

    only = apply_reviewed_prices(db, service_ids=[likes], actor=STAFF)
    assert only.changed == [RateChange(likes, Decimal("0.32"), Decimal("0.42"))]
    assert service(db, likes).rate == 42_000 and service(db, followers).rate == 113_000
    rest = apply_reviewed_prices(db, provider_name=provider, actor=STAFF)
    assert rest.changed == [RateChange(followers, Decimal("1.13"), Decimal("1.25"))]
    assert rest.disabled == [views] and service(db, views).enabled is False
    assert review_prices(db).changed == [] and review_prices(db).disabled == []
    with db.read() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "service_changed")
        ).all()
    assert actors == ["staff:olga"] * 3
    with pytest.raises(ProviderNotFound):
        review_prices(db, provider_name="nobody")
