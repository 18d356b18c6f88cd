"""The admin's settings over HTTP: owner only (manager and support 403 on
every page and post), each change stored through the panel's command and
audited as the staff member, refusals shown (400), a gateway's secret never
in the page, environment settings read-only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Currency
from smmpanel.db import Database
from smmpanel.panel.settings import get_setting
from smmpanel.panel.site import read_logo
from smmpanel.payments.setup import load_setup
from tests.factories import make_customer
from tests.payments.conftest import install_plugin, uninstall_plugin
from tests.payments.fakes import SECRET
from tests.web.admin.desk_helpers import audit_rows
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import Browser

Factory = Callable[[], Browser]
PAGE = "/admin/settings"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
POSTS = [
    ("/admin/settings/set", {"key": "signup", "value": "off"}),
    ("/admin/settings/text", {"key": "terms", "language": "", "text": "T"}),
    ("/admin/settings/logo/clear", {}),
    ("/admin/settings/currency", {"code": "EUR", "rate": "0.9"}),
    ("/admin/settings/base-currency", {"code": "EUR"}),
    ("/admin/settings/gateways/manual", {"instructions": "Pay us"}),
    ("/admin/settings/gateways/manual/enable", {}),
]


@pytest.fixture
def fake_gateway_installed(tmp_path: Path) -> Iterator[None]:
    root = tmp_path / "site"
    install_plugin(root, "fake_gateway", {"fake": "tests.payments.fakes:FakeGateway"})
    yield
    uninstall_plugin(root)


def _setting(db: Database, key: str) -> str:
    with db.read() as session:
        return get_setting(session, key)


@pytest.mark.parametrize("role", ["manager", "support"])
def test_only_the_owner_opens_settings(db: Database, browser_factory: Factory, role: str) -> None:
    owner = staff_browser(db, browser_factory)
    other = staff_browser(db, browser_factory, role=role)
    assert other.get(PAGE).status_code == 403
    token = owner.token(PAGE)  # a valid token of another session is still no permission
    for path, data in POSTS:
        answer = other.submit(path, data, page="/admin/")
        assert answer.status_code == 403, path
    assert owner.get(PAGE).status_code == 200 and token
    assert _setting(db, "signup") == "on"
    assert audit_rows(db, "setting_changed") == []


def test_customers_and_strangers_get_no_settings(db: Database, browser_factory: Factory) -> None:
    make_customer(db)
    customer = browser_factory()
    customer.log_in("alice")
    answer = customer.get(PAGE)
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"


def test_posts_without_the_csrf_token_are_refused(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    for path, data in POSTS:
        assert owner.http.post(path, data=data).status_code == 403, path
    assert _setting(db, "signup") == "on"


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("panel_name", "  Boost <Shop> ", "Boost <Shop>"),
        ("signup", "off", "off"),
        ("public_services", "off", "off"),
        ("duplicate_link_scope", "account", "account"),
        ("default_refill_days", "45", "45"),
        ("add_funds_text", "Write to us.", "Write to us."),
    ],
)
def test_each_setting_is_stored_and_audited(
    db: Database, browser_factory: Factory, key: str, value: str, stored: str
) -> None:
    owner = staff_browser(db, browser_factory, username="olga")
    before = _setting(db, key)
    done = owner.submit("/admin/settings/set", {"key": key, "value": value}, page=PAGE)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?done={key}#general"
    assert _setting(db, key) == stored
    [row] = audit_rows(db, "setting_changed")
    assert row == {
        "actor": "staff:olga",
        "subject": f"setting:{key}",
        "before": {key: before},
        "after": {key: stored},
    }
    page = owner.get(PAGE).text
    if key == "panel_name":
        assert "Boost &lt;Shop&gt;" in page and "Boost <Shop>" not in page


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("default_refill_days", "0", "default_refill_days takes a whole number from 1 to 3650"),
        ("signup", "maybe", "signup takes one of: on, off"),
        ("base_currency", "EUR", "unknown setting"),
        ("nonsense", "1", "unknown setting"),
        ("panel_name", "x" * 300, "panel_name takes at most 255 characters"),
    ],
)
def test_bad_settings_are_refused_with_the_domains_message(
    db: Database, browser_factory: Factory, key: str, value: str, message: str
) -> None:
    owner = staff_browser(db, browser_factory)
    answer = owner.submit("/admin/settings/set", {"key": key, "value": value}, page=PAGE)
    assert answer.status_code == 400 and message in answer.text
    assert audit_rows(db, "setting_changed") == []
    too_long = owner.submit("/admin/settings/set", {"key": key, "value": "x" * 1001}, page=PAGE)
    assert too_long.status_code == 400


def test_texts_are_stored_per_language(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    done = owner.submit(
        "/admin/settings/text",
        {"key": "terms", "language": "ru", "text": "Правила <b>."},
        page=PAGE,
    )
    assert done.status_code == 303
    page = owner.get(PAGE).text
    assert "Правила &lt;b&gt;.</textarea>" in page
    assert audit_rows(db, "site_text_changed")[0]["subject"] == "text:terms:ru"
    assert audit_rows(db, "site_text_changed")[0]["actor"] == "staff:owner"
    bad = owner.submit("/admin/settings/text", {"key": "about", "text": "x"}, page=PAGE)
    assert bad.status_code == 400 and "unknown text" in bad.text


def test_the_logo_is_uploaded_refused_and_removed(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    token = owner.token(PAGE)
    upload = owner.http.post(
        "/admin/settings/logo",
        data={"csrf_token": token},
        files={"logo": ("logo.gif", GIF, "image/gif")},
    )
    assert upload.status_code == 303
    logo = read_logo(db)
    assert logo is not None and logo.data == GIF and logo.content_type == "image/gif"
    assert f'src="/logo?v={logo.version}"' in owner.get(PAGE).text
    assert audit_rows(db, "logo_changed")[0]["actor"] == "staff:owner"

    svg = owner.http.post(
        "/admin/settings/logo",
        data={"csrf_token": token},
        files={"logo": ("x.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")},
    )
    assert svg.status_code == 400 and "SVG is not taken" in svg.text
    big = owner.http.post(
        "/admin/settings/logo",
        data={"csrf_token": token},
        files={"logo": ("big.gif", GIF + b"\0" * 300_000, "image/gif")},
    )
    assert big.status_code == 400 and "at most 256 KiB" in big.text
    none = owner.http.post("/admin/settings/logo", data={"csrf_token": token})
    assert none.status_code == 400
    assert read_logo(db) == logo

    assert owner.submit("/admin/settings/logo/clear", {}, page=PAGE).status_code == 303
    assert read_logo(db) is None and 'id="no-logo"' in owner.get(PAGE).text


def test_currencies_and_the_base_currency(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    done = owner.submit("/admin/settings/currency", {"code": "eur", "rate": "0.92"}, page=PAGE)
    assert done.status_code == 303
    with db.read() as session:
        assert session.scalar(select(Currency.rate).where(Currency.code == "EUR")) == "0.92"
    assert audit_rows(db, "currency_rate_set")[0]["actor"] == "staff:owner"
    assert 'data-currency="EUR"' in owner.get(PAGE).text
    bad = owner.submit("/admin/settings/currency", {"code": "EUR", "rate": "-1"}, page=PAGE)
    assert bad.status_code == 400

    # An empty panel may change its base currency ...
    assert (
        owner.submit("/admin/settings/base-currency", {"code": "EUR"}, page=PAGE).status_code == 303
    )
    assert _setting(db, "base_currency") == "EUR"
    # ... one with a customer may not: the domain's message is shown.
    make_customer(db, currency="EUR")
    refused = owner.submit("/admin/settings/base-currency", {"code": "USD"}, page=PAGE)
    assert refused.status_code == 400
    assert "the base currency can only be chosen on an empty panel" in refused.text
    assert _setting(db, "base_currency") == "EUR"


def test_a_gateways_secret_is_write_only(
    db: Database, browser_factory: Factory, fake_gateway_installed: None
) -> None:
    owner = staff_browser(db, browser_factory)
    path = "/admin/settings/gateways/fake"
    page = owner.get(PAGE).text
    assert 'id="gateway-fake"' in page and "(not set)" in page
    done = owner.submit(path, {"secret": SECRET, "shop": "my-shop", "min": "5"}, page=PAGE)
    assert done.status_code == 303
    with db.read() as session:
        setup = load_setup(session, "fake")
    assert setup.config["secret"] == SECRET and setup.config["shop"] == "my-shop"
    assert setup.min_amount == 5
    page = owner.get(PAGE).text
    assert SECRET not in page and "(set)" in page and 'value="my-shop"' in page
    [row] = audit_rows(db, "gateway_configured")
    assert row["actor"] == "staff:owner" and SECRET not in str(row)

    # Saved again with the secret left empty: the stored secret is kept.
    owner.submit(path, {"secret": "", "shop": "other"}, page=PAGE)
    with db.read() as session:
        assert load_setup(session, "fake").config == {"secret": SECRET, "shop": "other"}

    enabled = owner.submit(path + "/enable", {}, page=PAGE)
    assert enabled.status_code == 303
    with db.read() as session:
        assert load_setup(session, "fake").enabled
    assert audit_rows(db, "gateway_enabled")[0]["actor"] == "staff:owner"
    owner.submit(path + "/disable", {}, page=PAGE)
    with db.read() as session:
        assert not load_setup(session, "fake").enabled
    bad = owner.submit(path, {"min": "abc"}, page=PAGE)
    assert bad.status_code == 400
    assert owner.submit("/admin/settings/gateways/nope", {}, page=PAGE).status_code == 400
    assert owner.submit(path + "/explode", {}, page=PAGE).status_code == 404


def test_environment_settings_are_shown_read_only(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    page = owner.get(PAGE).text
    for name in ("SMMPANEL_SMTP_HOST", "SMMPANEL_SMTP_PASSWORD", "SMMPANEL_STATUS_SYNC_SECONDS"):
        assert f"<code>{name}</code>" in page
    assert "<code>SMMPANEL_RATE_LIMIT_KEY</code>" in page
    # No form posts to them.
    assert 'name="smtp_host"' not in page and 'name="rate_limit_key"' not in page
