"""The catalog page over HTTP: categories in order with their services,
categories created, renamed, translated and moved (plain posts and htmx),
services changed in bulk; each change in the database and audited as the
staff member.  Every test runs on SQLite and PostgreSQL (the `db` fixture)."""

from __future__ import annotations

from typing import Any

from smmpanel.catalog.categories import list_categories
from smmpanel.db import Database
from smmpanel.providers.service import map_service
from tests.factories import make_service
from tests.web.admin.catalog_helpers import (
    audit,
    category_id,
    category_order,
    quiet_provider,
    service_category,
    stored,
)
from tests.web.admin_helpers import staff_browser

CATALOG = "/admin/catalog"


def test_the_list_shows_categories_in_order_with_their_services(
    db: Database, browser_factory: Any
) -> None:
    followers = make_service(db, name="IG Followers", category="Instagram", rate="0.9")
    views = make_service(
        db, name="YT Views", category="YouTube", rate="1.23456", refill=True, refill_days=30
    )
    make_service(db, name="Hidden <b>one</b>", category="YouTube", enabled=False)
    quiet_provider(db, "alpha")
    map_service(db, service_id=followers, provider_name="alpha", upstream_service_id="77")
    browser = staff_browser(db, browser_factory, role="manager")
    page = browser.get(CATALOG)
    assert page.status_code == 200
    text = page.text
    assert text.index('id="category-') < text.index("IG Followers") < text.index("YT Views")
    assert "0.90000" in text and "1.23456" in text and "30-day window" in text
    assert "1. alpha #77" in text
    assert "Hidden &lt;b&gt;one&lt;/b&gt;" in text  # disabled ones are listed, escaped
    assert f'formaction="/admin/catalog/services/{views}/enabled"' in text
    assert 'href="/admin/providers"' in text
    russian = browser.get(CATALOG, headers={"accept-language": "ru"}).text
    assert "Новая услуга" in russian and "Применить к выбранным" in russian


def test_create_rename_and_translate_a_category(db: Database, browser_factory: Any) -> None:
    browser = staff_browser(db, browser_factory, role="manager", username="mia")
    made = browser.submit(f"{CATALOG}/categories", {"name": "  TikTok "}, page=CATALOG)
    assert (made.status_code, made.headers["location"]) == (303, f"{CATALOG}?done=category")
    assert category_order(db) == ["TikTok"]
    tiktok = category_id(db, "TikTok")
    assert audit(db, "category_created") == [
        ("staff:mia", f"category:{tiktok}", {"after": {"name": "TikTok", "position": 1}})
    ]
    edit = f"{CATALOG}/categories/{tiktok}"
    assert 'value="TikTok"' in browser.get(edit).text
    saved = browser.submit(edit, {"name": "TikTok Growth", "name_ru": "Рост в ТикТок"})
    assert saved.status_code == 303
    [view] = list_categories(db)
    assert (view.name, view.translations) == ("TikTok Growth", {"ru": "Рост в ТикТок"})
    [(actor, subj, details)] = audit(db, "category_changed")
    assert (actor, subj) == ("staff:mia", f"category:{tiktok}")
    assert details["after"] == {"name": "TikTok Growth", "name_ru": "Рост в ТикТок"}

    make_service(db, name="TT Likes", category="TikTok Growth")
    shop = browser_factory().get("/services", headers={"accept-language": "ru"}).text
    assert "Рост в ТикТок" in shop
    # An empty Russian name removes the translation.
    assert browser.submit(edit, {"name": "TikTok Growth", "name_ru": ""}).status_code == 303
    assert list_categories(db)[0].translations == {}


def test_move_categories_with_plain_posts_and_htmx(db: Database, browser_factory: Any) -> None:
    for name in ("A", "B", "C"):
        make_service(db, name=f"{name} service", category=name)
    browser = staff_browser(db, browser_factory)
    a, c = category_id(db, "A"), category_id(db, "C")

    moved = browser.submit(f"{CATALOG}/categories/{a}/move", {"direction": "down"}, page=CATALOG)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"{CATALOG}?done=moved#category-{a}"
    assert category_order(db) == ["B", "A", "C"]

    token_page = browser.get(CATALOG).text
    partial = browser.http.post(
        f"{CATALOG}/categories/{c}/move",
        data={"csrf_token": _token(token_page), "direction": "up", "service": "1"},
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<form method="post" action="/admin/catalog/services/')
    assert "<html" not in partial.text  # only the list, swapped in place
    assert category_order(db) == ["B", "C", "A"]
    assert 'aria-label="Select service 1" checked>' in partial.text  # the tick is kept
    assert 'aria-label="Select service 2">' in partial.text
    text = partial.text
    assert text.index("B service") < text.index("C service") < text.index("A service")
    # The first category cannot go further up: nothing changes.
    b = category_id(db, "B")
    assert browser.submit(f"{CATALOG}/categories/{b}/move", {"direction": "up"}, page=CATALOG)
    assert category_order(db) == ["B", "C", "A"]
    changes = [(s, d["after"]) for _, s, d in audit(db, "category_changed")]
    assert changes == [
        (f"category:{b}", {"position": 1}),
        (f"category:{a}", {"position": 2}),
        (f"category:{c}", {"position": 2}),
        (f"category:{a}", {"position": 3}),
    ]
    assert {actor for actor, _, _ in audit(db, "category_changed")} == {"staff:owner"}


def _token(page: str) -> str:
    from tests.web.conftest import TOKEN

    found = TOKEN.search(page)
    assert found
    return found.group(1)


def test_bulk_disable_enable_and_move_three_services(db: Database, browser_factory: Any) -> None:
    ids = [make_service(db, name=f"S{i}", category="Old") for i in range(3)]
    other = make_service(db, name="Untouched", category="Old")
    make_service(db, name="Anchor", category="New")
    browser = staff_browser(db, browser_factory, role="manager", username="mia")
    ticks = [str(i) for i in ids]

    def bulk(action: str, category: str = "") -> Any:
        token = _token(browser.get(CATALOG).text)
        data = {"csrf_token": token, "action": action, "category": category, "service": ticks}
        return browser.http.post(f"{CATALOG}/services/bulk", data=data)

    done = bulk("disable")
    assert (done.status_code, done.headers["location"]) == (303, f"{CATALOG}?done=bulk")
    assert [stored(db, i).enabled for i in ids] == [False] * 3
    assert stored(db, other).enabled
    disabled = audit(db, "service_changed")
    assert [(a, s, d["after"]) for a, s, d in disabled] == [
        ("staff:mia", f"service:{i}", {"enabled": False}) for i in ids
    ]
    assert bulk("enable").status_code == 303
    assert [stored(db, i).enabled for i in ids] == [True] * 3
    assert bulk("move", "New").status_code == 303
    assert [service_category(db, i) for i in ids] == ["New"] * 3
    assert service_category(db, other) == "Old"
    moves = audit(db, "service_changed")[6:]
    assert [(s, d["before"], d["after"]) for _, s, d in moves] == [
        (f"service:{i}", {"category": "Old"}, {"category": "New"}) for i in ids
    ]
    # Refused as a whole: nothing ticked, no category to move to, an unknown id.
    assert "Tick at least one service." in _post_bulk(browser, {"action": "enable"}).text
    no_category = _post_bulk(browser, {"action": "move", "service": ticks[0]})
    assert "Choose the category" in no_category.text
    unknown = _post_bulk(browser, {"action": "disable", "service": [ticks[0], "999"]})
    assert "no service 999" in unknown.text
    assert stored(db, ids[0]).enabled  # the known one was not changed either
    _post_bulk(browser, {"action": "disable", "service": "x"})
    _post_bulk(browser, {"action": "disable", "service": "99999999999"})
    _post_bulk(browser, {"action": "drop", "service": ticks[0]})
    gone = _post_bulk(browser, {"action": "move", "category": "Nowhere", "service": ticks[0]})
    assert "Not a valid choice" in gone.text
    assert service_category(db, ids[0]) == "New" and "Nowhere" not in category_order(db)


def _post_bulk(browser: Any, fields: dict[str, Any]) -> Any:
    token = _token(browser.get(CATALOG).text)
    answer = browser.http.post(f"{CATALOG}/services/bulk", data={"csrf_token": token, **fields})
    assert answer.status_code == 400, answer.text[:300]
    return answer


def test_switch_one_service_off_and_on(db: Database, browser_factory: Any) -> None:
    service = make_service(db)
    browser = staff_browser(db, browser_factory)
    path = f"{CATALOG}/services/{service}/enabled"
    off = browser.submit(path, {"enabled": "off"}, page=CATALOG)
    assert off.headers["location"] == f"{CATALOG}?done=disabled#service-{service}"
    assert not stored(db, service).enabled
    assert "Service disabled." in browser.get(f"{CATALOG}?done=disabled").text
    assert browser.submit(path, {"enabled": "on"}, page=CATALOG).status_code == 303
    assert stored(db, service).enabled
    assert [(a, d["after"]) for a, _, d in audit(db, "service_changed")] == [
        ("staff:owner", {"enabled": False}),
        ("staff:owner", {"enabled": True}),
    ]
    assert browser.submit(path, {"enabled": "maybe"}, page=CATALOG).status_code == 400
    missing = browser.submit(f"{CATALOG}/services/999/enabled", {"enabled": "on"}, page=CATALOG)
    assert missing.status_code == 404
