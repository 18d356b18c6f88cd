"""Services over HTTP: create (with Russian texts), edit every field, the
Russian name and description (shown on the shop's services page), provider
mappings added, reordered and removed; audited as the staff member.  Both
databases (the `db` fixture)."""

from __future__ import annotations

from typing import Any

from smmpanel.catalog.queries import list_services
from smmpanel.db import Database
from smmpanel.providers.service import map_service
from tests.factories import make_service
from tests.web.admin.catalog_helpers import audit, mapping, quiet_provider, stored
from tests.web.admin_helpers import staff_browser

NEW = "/admin/catalog/services/new"


def service_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "name": "Reels Views",
        "type": "Default",
        "category": "Instagram",
        "rate": "0.12345",
        "min_quantity": "100",
        "max_quantity": "50000",
        "refill_days": "",
        "description": "Fast <start>",
        "link_required": "y",
        "enabled": "y",
    }
    return fields | overrides


def test_create_a_service_with_its_russian_texts(db: Database, browser_factory: Any) -> None:
    make_service(db, name="Seed", category="Instagram")
    browser = staff_browser(db, browser_factory, role="manager", username="mia")
    form = browser.get(NEW + "?category=Instagram")
    assert form.status_code == 200 and '<option selected value="Instagram">' in form.text
    made = browser.submit(
        NEW,
        service_fields(
            dripfeed="y",
            refill="y",
            refill_days="45",
            name_ru="Просмотры Reels",
            description_ru="Быстро",
        ),
    )
    assert made.status_code == 303, made.text[:500]
    service_id = int(made.headers["location"].split("/")[-1].split("?")[0])
    service = stored(db, service_id)
    assert (service.name, service.type, service.rate) == ("Reels Views", "Default", 12345)
    assert (service.min_quantity, service.max_quantity) == (100, 50000)
    assert (service.dripfeed, service.refill, service.refill_days) == (True, True, 45)
    assert (service.cancel, service.link_required, service.enabled) == (False, True, True)
    assert service.description == "Fast <start>"
    [view] = [v for v in list_services(db, with_translations=True) if v.id == service_id]
    assert view.name_lang == {"ru": "Просмотры Reels"}
    assert view.description_lang == {"ru": "Быстро"}
    [(actor, subj, details)] = audit(db, "service_created")[1:]
    assert (actor, subj) == ("staff:mia", f"service:{service_id}")
    assert details["after"]["rate"] == "0.12345" and details["after"]["refill_days"] == 45
    page = browser.get(made.headers["location"])
    assert "Service created." in page.text and "Fast &lt;start&gt;" in page.text


def test_edit_every_field_of_a_service(db: Database, browser_factory: Any) -> None:
    service_id = make_service(db, name="Likes", category="Instagram", rate="1")
    make_service(db, name="Other", category="TikTok")
    browser = staff_browser(db, browser_factory)
    path = f"/admin/catalog/services/{service_id}"
    page = browser.get(path).text
    assert 'value="1"' in page and 'value="Likes"' in page  # the rate as the owner typed it
    saved = browser.submit(
        path,
        service_fields(
            name="Likes HQ",
            type="Package",
            category="TikTok",
            rate="999999.99999",
            min_quantity="1",
            max_quantity="1",
            refill="y",
            refill_days="3650",
            cancel="y",
            link_required="",
            enabled="",
            description="",
        ),
    )
    assert (saved.status_code, saved.headers["location"]) == (303, f"{path}?done=saved")
    service = stored(db, service_id)
    assert (service.name, service.type, service.rate) == ("Likes HQ", "Package", 99999999999)
    assert (service.min_quantity, service.max_quantity, service.refill_days) == (1, 1, 3650)
    assert (service.cancel, service.link_required, service.enabled) == (True, False, False)
    assert service.description == ""
    [(actor, _, details)] = audit(db, "service_changed")
    assert actor == "staff:owner"
    assert details["before"]["rate"] == "1.00000" and details["after"]["rate"] == "999999.99999"
    assert details["after"]["category"] == "TikTok" and details["after"]["enabled"] is False
    # Saved again unchanged: nothing new in the trail.
    page = browser.get(f"{path}?done=saved").text
    assert "Service saved." in page and 'value="999999.99999"' in page
    assert (
        browser.submit(
            path,
            service_fields(
                name="Likes HQ",
                type="Package",
                category="TikTok",
                rate="999999.99999",
                min_quantity="1",
                max_quantity="1",
                refill="y",
                refill_days="3650",
                cancel="y",
                link_required="",
                enabled="",
                description="",
            ),
        ).status_code
        == 303
    )
    assert len(audit(db, "service_changed")) == 1


def test_russian_texts_show_on_the_shop(db: Database, browser_factory: Any) -> None:
    service_id = make_service(db, name="Followers", description="Real people")
    browser = staff_browser(db, browser_factory, role="manager", username="mia")
    path = f"/admin/catalog/services/{service_id}"
    done = browser.submit(
        path + "/translations",
        {"name_ru": "Подписчики", "description_ru": "Живые люди"},
        page=path,
    )
    assert (done.status_code, done.headers["location"]) == (303, f"{path}?done=translated")
    shop = browser_factory()
    russian = shop.get("/services", headers={"accept-language": "ru"}).text
    assert "Подписчики" in russian and "Живые люди" in russian
    english = shop.get("/services", headers={"accept-language": "en"}).text
    assert "Followers" in english and "Подписчики" not in english
    [(actor, subj, details)] = audit(db, "service_changed")
    assert (actor, subj) == ("staff:mia", f"service:{service_id}")
    assert details == {
        "before": {"name_ru": None, "description_ru": None},
        "after": {"name_ru": "Подписчики", "description_ru": "Живые люди"},
    }
    # Emptied: removed, the shop shows the original again.
    browser.submit(path + "/translations", {"name_ru": "", "description_ru": ""}, page=path)
    assert "Followers" in shop.get("/services", headers={"accept-language": "ru"}).text
    [view] = list_services(db, with_translations=True)
    assert (view.name_lang, view.description_lang) == ({}, {})


def test_map_providers_reorder_and_remove(db: Database, browser_factory: Any) -> None:
    service_id = make_service(db)
    for name in ("alpha", "beta", "gamma"):
        quiet_provider(db, name)
    browser = staff_browser(db, browser_factory, role="manager", username="mia")
    path = f"/admin/catalog/services/{service_id}"
    assert "No provider: orders of this service are not forwarded." in browser.get(path).text
    for provider, upstream in (("alpha", "11"), ("beta", "22"), ("gamma", "33")):
        added = browser.submit(
            path + "/sources", {"provider": provider, "upstream_service": upstream}, page=path
        )
        assert added.headers["location"] == f"{path}?done=mapped#providers"
    assert mapping(db, service_id) == [("alpha", "11", 1), ("beta", "22", 2), ("gamma", "33", 3)]

    def move(provider: str, direction: str) -> None:
        answer = browser.submit(
            path + "/sources/move", {"provider": provider, "direction": direction}, page=path
        )
        assert answer.status_code == 303

    move("gamma", "up")
    assert mapping(db, service_id) == [("alpha", "11", 1), ("gamma", "33", 2), ("beta", "22", 3)]
    move("gamma", "up")
    move("gamma", "up")  # first already: nothing changes
    assert [p for p, _, _ in mapping(db, service_id)] == ["gamma", "alpha", "beta"]
    move("alpha", "down")
    assert mapping(db, service_id) == [("gamma", "33", 1), ("beta", "22", 2), ("alpha", "11", 3)]
    page = browser.get(path).text
    assert page.index("gamma") < page.index("beta") < page.index("alpha", page.index("sources"))
    # Mapping a provider again changes its upstream id and keeps its place.
    browser.submit(path + "/sources", {"provider": "beta", "upstream_service": "23"}, page=path)
    assert mapping(db, service_id)[1] == ("beta", "23", 2)
    removed = browser.submit(path + "/sources/remove", {"provider": "gamma"}, page=path)
    assert removed.headers["location"] == f"{path}?done=unmapped#providers"
    assert mapping(db, service_id) == [("beta", "23", 2), ("alpha", "11", 3)]
    mapped = audit(db, "service_mapped")
    assert {actor for actor, _, _ in mapped} == {"staff:mia"}
    assert len(mapped) == 3 + 2 + 2 + 2 + 1  # added, gamma up twice, alpha down, beta again
    assert audit(db, "service_unmapped")[0][:2] == ("staff:mia", f"service:{service_id}")
    missing = browser.submit(path + "/sources/remove", {"provider": "gamma"}, page=path)
    assert missing.status_code == 404
    unknown = browser.submit(
        path + "/sources", {"provider": "zeta", "upstream_service": "1"}, page=path
    )
    assert unknown.status_code == 400 and "Not a valid choice" in unknown.text
    blank = browser.submit(
        path + "/sources", {"provider": "alpha", "upstream_service": " "}, page=path
    )
    assert blank.status_code == 400


def test_remapping_keeps_the_price_sync_markup(db: Database, browser_factory: Any) -> None:
    service_id = make_service(db)
    quiet_provider(db, "alpha")
    map_service(
        db,
        service_id=service_id,
        provider_name="alpha",
        upstream_service_id="1",
        markup_percent="30",
        markup_fixed="0.1",
        round_places=2,
    )
    browser = staff_browser(db, browser_factory)
    path = f"/admin/catalog/services/{service_id}"
    assert "+30% + 0.10000" in browser.get(path).text
    browser.submit(path + "/sources", {"provider": "alpha", "upstream_service": "2"}, page=path)
    [(before, after)] = [(d["before"], d["after"]) for _, _, d in audit(db, "service_mapped")[1:]]
    assert before["upstream_service"] == "1" and after["upstream_service"] == "2"
    assert (after["markup_percent"], after["markup_fixed"], after["round_places"]) == (
        "30",
        "0.10000",
        2,
    )


def test_the_hint_of_a_type(db: Database, browser_factory: Any) -> None:
    browser = staff_browser(db, browser_factory, role="manager")
    form = browser.get(NEW).text
    assert 'hx-get="/admin/catalog/types"' in form and 'id="type-hint"' in form
    assert "Quantity: the quantity ordered." in form  # Default, the first type
    package = browser.get("/admin/catalog/types", params={"type": "custom comments package"})
    assert package.status_code == 200 and "<html" not in package.text
    assert "a whole package" in package.text and "comments" in package.text
    assert "No drip-feed for this type." in package.text
    russian = browser.get(
        "/admin/catalog/types", params={"type": "Web Traffic"}, headers={"accept-language": "ru"}
    ).text
    assert "Drip-feed можно разрешить." in russian and "country, device" in russian
    unknown = browser.get("/admin/catalog/types", params={"type": "<b>x</b>" * 50})
    assert unknown.status_code == 200 and "Quantity" not in unknown.text
    support = staff_browser(db, browser_factory, role="support")
    assert support.get("/admin/catalog/types", params={"type": "Default"}).status_code == 403
