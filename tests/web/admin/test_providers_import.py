"""Importing a provider's services from the admin (a preview that writes
nothing, then the apply of the ticked services with the markup) and the
price-sync report with its apply, against the provider simulator."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from smmpanel.audit.models import AuditEntry
from smmpanel.catalog.models import Category, Service, ServiceSource
from smmpanel.db import Database
from smmpanel.providers.catalog_sync import import_provider_services
from smmpanel.providers.models import UpstreamService
from smmpanel.providers.service import map_service
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_provider, make_service
from tests.providers.helpers import category_of, service
from tests.web.admin.test_providers import audit, sim
from tests.web.admin_helpers import staff_browser

__all__ = ["sim"]  # the fixture
PAGE = "/admin/providers/1"
IMPORT = f"{PAGE}/import"
DIGEST = re.compile(r'name="digest" type="hidden" value="([0-9a-f]*)"')


def snapshot(db: Database) -> dict[str, Any]:
    """Everything an import could write."""
    with db.read() as session:
        return {
            "services": session.scalar(select(func.count()).select_from(Service)),
            "sources": session.scalar(select(func.count()).select_from(ServiceSource)),
            "categories": session.scalar(select(func.count()).select_from(Category)),
            "audit": session.scalar(select(func.count()).select_from(AuditEntry)),
            "upstream": sorted(
                (row.upstream_id, row.rate, row.gone, row.last_seen_at.isoformat())
                for row in session.scalars(select(UpstreamService))
            ),
        }


def planned_rates(text: str) -> dict[str, str]:
    """upstream id -> our rate, as the preview's table shows them."""
    rows = re.findall(r'id="planned-([^"]+)">.*?<td class="rate">([^<]+)</td>', text, re.S)
    return dict(rows)


def imported(db: Database) -> dict[str, tuple[int, str | None, int]]:
    """upstream id -> (our rate, the markup kept, round places) of each mapping."""
    with db.read() as session:
        rows = session.execute(
            select(ServiceSource.upstream_service_id, Service.rate, ServiceSource.markup_percent,
                   ServiceSource.round_places)
            .join(Service, Service.id == ServiceSource.service_id)
        ).all()  # fmt: skip
    return {upstream: (rate, markup, places) for upstream, rate, markup, places in rows}


def options(**changes: str) -> dict[str, str]:
    form = {"markup_percent": "30", "markup_fixed": "0", "round_places": "2", "category": ""}
    return {**form, "into_category": "", "step": "preview", **changes}


def test_preview_writes_nothing_then_apply_imports_with_the_markup(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory)
    make_provider(db, sim, "up")
    assert 'id="no-catalog"' in owner.get(IMPORT).text
    listed = len(sim.control.catalog())
    read = owner.submit(f"{PAGE}/catalog", {}, page=PAGE)
    assert read.headers["location"] == f"{PAGE}?done=catalog&new={listed}&changed=0&gone=0"
    assert f"new: {listed}" in owner.get(read.headers["location"]).text
    before = snapshot(db)

    preview = owner.submit(IMPORT, options(), page=IMPORT)

    assert preview.status_code == 200
    rates = planned_rates(preview.text)
    assert len(rates) == listed
    # Upstream rate x 1.30, rounded up to 2 places (a price never below the cost).
    assert {k: rates[k] for k in ("1", "2", "3", "4", "5")} == {
        "1": "1.17000",  # 0.90 x 1.3 = 1.17
        "2": "0.33000",  # 0.25 x 1.3 = 0.325
        "3": "1.95000",  # 1.50 x 1.3 = 1.95
        "4": "2.73000",  # 2.10 x 1.3 = 2.73
        "5": "0.02000",  # 0.0123 x 1.3 = 0.01599
    }
    assert snapshot(db) == before  # not even the catalogue was read again
    found = DIGEST.search(preview.text)
    assert found and len(found[1]) == 32

    ticked = ["1", "2", "3", "5"]
    applied = owner.http.post(
        IMPORT,
        data={"csrf_token": owner.token(IMPORT), **options(step="apply"), "digest": found[1],
              "upstream": ticked},
    )  # fmt: skip

    assert applied.status_code == 303
    assert applied.headers["location"] == f"{PAGE}?done=imported&created=4&failed=0"
    assert imported(db) == {
        "1": (117_000, "30", 2), "2": (33_000, "30", 2),
        "3": (195_000, "30", 2), "5": (2_000, "30", 2),
    }  # fmt: skip
    created = audit(db, "service_created")
    assert [actor for actor, _, _ in created] == ["staff:owner"] * 4
    assert [actor for actor, _, _ in audit(db, "service_mapped")] == ["staff:owner"] * 4
    page = owner.get(applied.headers["location"]).text
    assert "The services are imported." in page and 'id="mapping-' in page

    sim.control.catalog(service=1, rate="1.00")
    assert owner.submit(f"{PAGE}/catalog", {}, page=PAGE).status_code == 303
    again = owner.submit(IMPORT, options(), page=IMPORT)
    assert set(planned_rates(again.text)) == {str(i) for i in range(1, listed + 1)} - set(ticked)
    sync = dict(
        re.findall(r'id="already-(\d+)">.*?<td class="sync">([^<]+)</td>', again.text, re.S)
    )
    # An import never reprices: the price sync would (1.00 x 1.30).
    assert sync == {"1": "would set 1.30000", "2": "unchanged", "3": "unchanged", "5": "unchanged"}
    assert imported(db)["1"] == (117_000, "30", 2)


def test_apply_refused_when_the_catalogue_moved_since_the_preview(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory, role="manager")
    make_provider(db, sim, "up")
    owner.submit(f"{PAGE}/catalog", {}, page=PAGE)
    chosen = options(
        markup_percent="25", markup_fixed="0.1", round_places="1",
        category="Instagram Mentions", into_category="Mentions",
    )  # fmt: skip
    preview = owner.submit(IMPORT, chosen, page=IMPORT)
    rates = planned_rates(preview.text)
    # x 1.25 + 0.10, rounded up to 1 place.
    assert {k: rates[k] for k in ("9", "10", "11")} == {
        "9": "5.10000", "10": "6.40000", "11": "7.60000",
    }  # fmt: skip
    old_digest = DIGEST.search(preview.text)
    assert old_digest
    sim.control.catalog(service=9, rate="4.20")
    assert owner.submit(f"{PAGE}/catalog", {}, page=PAGE).status_code == 303
    before = snapshot(db)

    stale = owner.http.post(
        IMPORT,
        data={"csrf_token": owner.token(IMPORT), **chosen, "step": "apply",
              "digest": old_digest[1], "upstream": ["9", "10"]},
    )  # fmt: skip

    assert stale.status_code == 400 and "changed since the preview" in stale.text
    assert snapshot(db) == before
    assert planned_rates(stale.text)["9"] == "5.40000"  # 4.20 x 1.25 + 0.10 = 5.35, up
    new_digest = DIGEST.search(stale.text)
    assert new_digest and new_digest[1] != old_digest[1]
    done = owner.http.post(
        IMPORT,
        data={"csrf_token": owner.token(IMPORT), **chosen, "step": "apply",
              "digest": new_digest[1], "upstream": ["9", "10"]},
    )  # fmt: skip
    assert done.status_code == 303
    assert {k: v[0] for k, v in imported(db).items()} == {"9": 540_000, "10": 640_000}
    with db.read() as session:
        ids = session.scalars(select(ServiceSource.service_id)).all()
    assert {category_of(db, i) for i in ids} == {"Mentions"}
    assert [a for a, _, _ in audit(db, "service_created")] == ["staff:manager"] * 2


def test_bad_import_input_shows_the_form(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory)
    make_provider(db, sim, "up")
    owner.submit(f"{PAGE}/catalog", {}, page=PAGE)
    before = snapshot(db)
    for changes, message in (
        ({"markup_percent": "-5"}, "Number must be between"),
        ({"markup_percent": "abc"}, "Not a valid decimal value"),
        ({"round_places": "9"}, "Number must be between"),
        ({"category": "No such category"}, "Not a valid choice"),
        ({"step": "apply"}, "Tick the services to import."),
        ({"step": "apply", "digest": "0" * 32, "upstream": "1"}, "changed since the preview"),
    ):
        answer = owner.submit(IMPORT, options(**changes), page=IMPORT)
        assert answer.status_code == 400, changes
        assert message in answer.text, changes
    assert snapshot(db) == before
    assert owner.get("/admin/providers/2/import").status_code == 404


def test_price_report_shows_upstream_changes_and_applies_them(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    manager = staff_browser(db, browser_factory, role="manager")
    make_provider(db, sim, "up")
    result = import_provider_services(
        db, provider_name="up", markup_percent="30", upstream_ids=["1", "2", "3"]
    )
    followers, likes, views = (c.service_id for c in result.created)
    by_hand = make_service(db, name="Mine", rate="5.00")
    map_service(db, service_id=by_hand, provider_name="up", upstream_service_id="1")
    prices = "/admin/providers/prices"
    quiet = manager.get(prices).text
    assert 'id="no-changes"' in quiet and f'id="manual-{by_hand}"' in quiet

    sim.control.catalog(service=1, rate="1.00")
    sim.control.catalog(service=2, rate="0.40")
    sim.control.catalog(remove=3)
    checked = manager.submit(f"{prices}/check", {}, page=prices)
    assert checked.headers["location"] == f"{prices}?done=checked"
    assert [service(db, i).rate for i in (followers, likes, views)] == [117_000, 33_000, 195_000]
    assert service(db, views).enabled is True  # the report only reads

    report = manager.get(checked.headers["location"]).text
    changed = re.findall(
        r'id="changed-(\d+)">.*?"rate">([^<]+)<.*?"new-rate">([^<]+)<', report, re.S
    )
    assert changed == [(str(followers), "1.17000", "1.30000"), (str(likes), "0.33000", "0.52000")]
    assert f'id="disabled-{views}"' in report and f'id="manual-{by_hand}"' in report

    one = manager.submit(f"{prices}/apply", {"service": str(followers)}, page=prices)
    assert one.headers["location"] == f"{prices}?done=one"
    assert [service(db, i).rate for i in (followers, likes)] == [130_000, 33_000]
    assert audit(db, "service_changed") == [
        ("staff:manager", f"service:{followers}",
         {"before": {"rate": "1.17000"}, "after": {"rate": "1.30000", "by": "price sync"}}),
    ]  # fmt: skip

    every = manager.submit(f"{prices}/apply", {}, page=prices)
    assert every.headers["location"] == f"{prices}?done=all"
    assert service(db, likes).rate == 52_000 and service(db, views).enabled is False
    assert service(db, by_hand).rate == 500_000
    assert [(a, s) for a, s, _ in audit(db, "service_changed")][1:] == [
        ("staff:manager", f"service:{likes}"),
        ("staff:manager", f"service:{views}"),
    ]
    assert 'id="no-changes"' in manager.get(prices).text
    bad = manager.submit(f"{prices}/apply", {"service": "x1"}, page=prices)
    assert bad.status_code == 400


def test_support_may_not_import_or_reprice(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    make_provider(db, sim, "up")
    support = staff_browser(db, browser_factory, role="support")
    for path in ("/admin/providers/prices/check", "/admin/providers/prices/apply", IMPORT):
        assert support.submit(path, options(), page="/admin/").status_code == 403, path
    owner = staff_browser(db, browser_factory)
    assert owner.http.post("/admin/providers/prices/apply", data={}).status_code == 403
    assert owner.http.post(IMPORT, data=options()).status_code == 403


def test_reading_every_catalogue_reports_the_unreachable(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory)
    make_provider(db, sim, "up")
    with running_simulator() as gone:
        make_provider(db, gone, "gone")
    prices = "/admin/providers/prices"
    answer = owner.submit(f"{prices}/check", {}, page=prices)
    assert answer.status_code == 502
    assert re.search(
        r'role="alert">gone: provider &#39;gone&#39; \(http[^)]*\): \w+ failed', answer.text
    )
    with db.read() as session:
        read = session.scalars(select(UpstreamService.provider_id).distinct()).all()
    assert read == [1]  # the reachable one was read all the same
