"""The catalog section's guards over HTTP: support and customers get nothing,
every post needs its CSRF token, and bad input is the form again with a
message (400), never a 500 and never a change.  Both databases."""

from __future__ import annotations

from typing import Any

import pytest

from smmpanel.db import Database
from tests.factories import make_service
from tests.web.admin.catalog_helpers import audit, category_id, quiet_provider, stored
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import Browser

CATALOG = "/admin/catalog"


def _posts(service_id: int, category: int) -> list[tuple[str, dict[str, str]]]:
    """Every form post of the section, with data that would be accepted."""
    base = f"{CATALOG}/services/{service_id}"
    return [
        (f"{CATALOG}/categories", {"name": "New"}),
        (f"{CATALOG}/categories/{category}", {"name": "Renamed"}),
        (f"{CATALOG}/categories/{category}/move", {"direction": "down"}),
        (
            f"{CATALOG}/services/new",
            {
                "name": "X",
                "type": "Default",
                "category": "Instagram",
                "rate": "1",
                "min_quantity": "1",
                "max_quantity": "2",
            },
        ),
        (
            base,
            {
                "name": "X",
                "type": "Default",
                "category": "Instagram",
                "rate": "1",
                "min_quantity": "1",
                "max_quantity": "2",
            },
        ),
        (base + "/translations", {"name_ru": "Икс"}),
        (base + "/enabled", {"enabled": "off"}),
        (f"{CATALOG}/services/bulk", {"action": "disable", "service": str(service_id)}),
        (base + "/sources", {"provider": "alpha", "upstream_service": "1"}),
        (base + "/sources/move", {"provider": "alpha", "direction": "up"}),
        (base + "/sources/remove", {"provider": "alpha"}),
    ]


def test_support_gets_403_and_customers_the_login(db: Database, browser_factory: Any) -> None:
    service_id = make_service(db)
    category = category_id(db, "Instagram")
    quiet_provider(db, "alpha")
    support = staff_browser(db, browser_factory, role="support")
    pages = (
        CATALOG,
        f"{CATALOG}/services/new",
        f"{CATALOG}/services/{service_id}",
        f"{CATALOG}/categories/{category}",
    )
    for path in pages:
        assert support.get(path).status_code == 403, path
    assert 'href="/admin/catalog"' not in support.get("/admin/").text
    for path, data in _posts(service_id, category):
        refused = support.submit(path, data, page="/admin/")
        assert refused.status_code == 403, path
    customer = browser_factory()
    customer.sign_up("carol")
    for path in pages:
        answer = customer.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/login"), path
    assert stored(db, service_id).enabled and stored(db, service_id).name == "Followers"
    assert audit(db, "service_changed") == [] and audit(db, "category_changed") == []


def test_every_post_needs_its_csrf_token(db: Database, browser_factory: Any) -> None:
    service_id = make_service(db)
    category = category_id(db, "Instagram")
    quiet_provider(db, "alpha")
    owner = staff_browser(db, browser_factory)
    for path, data in _posts(service_id, category):
        assert owner.http.post(path, data=data).status_code == 403, path
        forged = owner.http.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403, path
    assert stored(db, service_id).enabled
    assert len(audit(db, "category_created")) == 1  # the factory's, no other


BAD_SERVICES = [
    ({"rate": "abc"}, "rate: not a decimal number"),
    ({"rate": "-1"}, "rate must be from 0 to 1000000"),
    ({"rate": "1000000.00001"}, "rate must be from 0 to 1000000"),
    ({"rate": "0.123456"}, "at most 5 decimal places"),
    ({"rate": "1e999999"}, "rate must be from 0 to 1000000"),
    ({"rate": "NaN"}, "not a finite number"),
    ({"rate": "9" * 40}, "Field cannot be longer than 32 characters."),
    ({"min_quantity": "0"}, "Number must be between 1 and 1000000000."),
    ({"max_quantity": "1000000001"}, "Number must be between 1 and 1000000000."),
    ({"min_quantity": "500", "max_quantity": "100"}, "The maximum is below the minimum."),
    ({"min_quantity": "ten"}, "Not a valid integer value."),
    ({"min_quantity": "9" * 30}, "Number must be between"),
    ({"refill_days": "0"}, "Number must be between 1 and 3650."),
    ({"refill_days": "3651"}, "Number must be between 1 and 3650."),
    ({"name": ""}, "This field is required."),
    ({"name": "n" * 256}, "Field cannot be longer than 255 characters."),
    ({"type": "Teleport"}, "Not a valid choice"),
    ({"category": "Nowhere"}, "Not a valid choice"),
    ({"type": "Package", "dripfeed": "y"}, "This type does not take drip-feed."),
    ({"description": "d" * 10_001}, "Field cannot be longer than 10000 characters."),
]


@pytest.mark.parametrize(("change", "message"), BAD_SERVICES)
def test_bad_service_input_is_a_400_with_a_message(
    db: Database, browser_factory: Any, change: dict[str, str], message: str
) -> None:
    service_id = make_service(db)
    owner = staff_browser(db, browser_factory)
    good = {
        "name": "Followers",
        "type": "Default",
        "category": "Instagram",
        "rate": "0.9",
        "min_quantity": "10",
        "max_quantity": "10000",
        "enabled": "y",
        "link_required": "y",
    }
    for path in (f"{CATALOG}/services/new", f"{CATALOG}/services/{service_id}"):
        answer = owner.submit(path, {**good, **change})
        assert answer.status_code == 400, (path, answer.text[:300])
        assert message in answer.text, (path, message)
    assert audit(db, "service_changed") == [] and len(audit(db, "service_created")) == 1


def test_bad_category_and_path_input(db: Database, browser_factory: Any) -> None:
    make_service(db, category="Instagram")
    make_service(db, category="TikTok")
    owner: Browser = staff_browser(db, browser_factory)
    tiktok = category_id(db, "TikTok")
    for name, message in (
        ("", "This field is required."),
        ("x" * 256, "longer than 255"),
        ("Instagram", "category &#39;Instagram&#39; exists already"),
    ):
        made = owner.submit(f"{CATALOG}/categories", {"name": name}, page=CATALOG)
        assert made.status_code == 400 and message in made.text, name
    taken = owner.submit(f"{CATALOG}/categories/{tiktok}", {"name": "Instagram", "name_ru": ""})
    assert taken.status_code == 400 and "exists already" in taken.text
    long_ru = owner.submit(f"{CATALOG}/categories/{tiktok}", {"name": "T", "name_ru": "я" * 256})
    assert long_ru.status_code == 400
    move = f"{CATALOG}/categories/{tiktok}/move"
    assert owner.submit(move, {"direction": "sideways"}, page=CATALOG).status_code == 400
    assert (
        owner.submit(
            f"{CATALOG}/categories/999/move", {"direction": "up"}, page=CATALOG
        ).status_code
        == 404
    )
    for path in (
        f"{CATALOG}/services/999",
        f"{CATALOG}/services/99999999999999999999999",
        f"{CATALOG}/categories/0",
        f"{CATALOG}/categories/99999999999",
    ):
        assert owner.get(path).status_code == 404, path
    assert owner.get(f"{CATALOG}/services/abc").status_code == 404
    assert [n for _, _, d in audit(db, "category_changed") for n in d["after"]] == []
