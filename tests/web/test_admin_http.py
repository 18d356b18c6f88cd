"""The admin at /admin over HTTP: staff logins (password, two-factor), roles
(403), a customer's session opening nothing, CSRF, sessions ended by changes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from smmpanel.accounts import two_factor
from smmpanel.accounts.two_factor import current_code
from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.db import Database
from smmpanel.server import serve_in_thread, site_app
from smmpanel.staff.service import add_staff, set_staff_active
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import PASSWORD, Browser, web_settings

CLI = Actor("cli", "tester")


def staff_login(browser: Browser, username: str, password: str = PASSWORD) -> Any:
    return browser.submit("/admin/login", {"username": username, "password": password})


def test_staff_log_in_and_out(db: Database, browser_factory: Any) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    browser = browser_factory()
    assert browser.get("/admin").headers["location"] == "/admin/"
    assert browser.get("/admin/").headers["location"] == "/admin/login"
    refused = staff_login(browser, "olga", "not the password")
    assert refused.status_code == 400 and "wrong username or password" in refused.text
    done = staff_login(browser, "olga")
    assert (done.status_code, done.headers["location"]) == (303, "/admin/")
    home = browser.get("/admin/")
    assert home.status_code == 200
    assert "Logged in as olga, owner." in home.text and "Manage staff" in home.text
    assert "smmpanel_admin" in home.request.headers["cookie"]
    assert browser.get("/admin/staff").status_code == 200
    russian = browser.get("/admin/", headers={"accept-language": "ru"}).text
    assert "Вы вошли как olga, владелец." in russian and 'href="/admin/settings"' in russian
    assert browser.submit("/admin/logout", {}, page="/admin/").headers["location"] == "/admin/login"
    assert browser.get("/admin/").status_code == 303
    with db.read() as session:
        logged = session.execute(
            select(AuditEntry.actor, AuditEntry.action).where(
                AuditEntry.action == "staff_logged_in"
            )
        ).all()
    assert [tuple(row) for row in logged] == [("staff:olga", "staff_logged_in")]


def test_roles_customers_and_csrf(db: Database, browser_factory: Any) -> None:
    add_staff(db, username="sam", role="support", password=PASSWORD, actor=CLI)
    support = browser_factory()
    assert staff_login(support, "sam").status_code == 303
    assert support.get("/admin/").status_code == 200
    forbidden = support.get("/admin/staff")
    assert forbidden.status_code == 403 and "role does not allow" in forbidden.text
    menu = support.get("/admin/").text
    assert "Manage staff" not in menu and 'href="/admin/settings"' not in menu
    assert 'href="/admin/tickets"' in menu and 'href="/admin/orders"' in menu

    customer = browser_factory()
    assert customer.sign_up("carol").status_code == 303
    assert customer.get("/orders").status_code == 200  # logged in on the shop...
    for path in ("/admin/", "/admin/staff", "/admin/security"):
        answer = customer.get(path)  # ... and nobody at all in the admin
        assert (answer.status_code, answer.headers["location"]) == (303, "/admin/login")

    bare = browser_factory()
    no_token = bare.http.post("/admin/login", data={"username": "sam", "password": PASSWORD})
    assert no_token.status_code == 403


def test_a_disabled_member_is_logged_out(db: Database, browser_factory: Any) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    browser = staff_browser(db, browser_factory, role="manager", username="sam")
    assert browser.get("/admin/").status_code == 200
    set_staff_active(db, username="sam", active=False, actor=CLI)
    assert browser.get("/admin/").headers["location"] == "/admin/login"
    assert staff_login(browser, "sam").status_code == 400


def test_two_factor_set_up_and_log_in(
    db: Database, browser_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [datetime(2026, 6, 1, 12, 0, 15, tzinfo=UTC)]
    monkeypatch.setattr(two_factor, "utcnow", lambda: clock[0])
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    browser = browser_factory()
    staff_login(browser, "olga")
    assert "Two-factor authentication is off for you" in browser.get("/admin/").text
    begun = browser.submit("/admin/security/begin", {}, page="/admin/security")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', begun.text)
    assert secret, begun.text[:500]
    wrong = browser.submit(
        "/admin/security/confirm",
        {"password": PASSWORD, "code": "000000"},
        page="/admin/security",
    )
    assert wrong.status_code == 400 and "the code is wrong" in wrong.text
    confirmed = browser.submit(
        "/admin/security/confirm",
        {"password": PASSWORD, "code": current_code(secret.group(1), clock[0])},
        page="/admin/security",
    )
    assert confirmed.headers["location"] == "/admin/security?done=on"
    assert "On: logging in takes" in browser.get("/admin/security").text  # still logged in

    browser.submit("/admin/logout", {}, page="/admin/")
    assert staff_login(browser, "olga").headers["location"] == "/admin/login/code"
    assert browser.get("/admin/").status_code == 303  # not logged in before the code
    clock[0] += timedelta(seconds=30)
    done = browser.submit("/admin/login/code", {"code": current_code(secret.group(1), clock[0])})
    assert done.headers["location"] == "/admin/"
    assert "Logged in as olga" in browser.get("/admin/").text


def test_staff_must_set_up_two_factor_first_where_the_panel_requires_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [datetime(2026, 6, 1, 12, 0, 15, tzinfo=UTC)]
    monkeypatch.setattr(two_factor, "utcnow", lambda: clock[0])
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    with serve_in_thread(site_app(db, web_settings(staff_two_factor=True))) as url:
        browser = Browser(url)
        assert staff_login(browser, "olga").headers["location"] == "/admin/"
        for path in ("/admin/", "/admin/staff", "/admin/orders", "/admin/settings"):
            answer = browser.get(path)
            assert (answer.status_code, answer.headers["location"]) == (
                303,
                "/admin/security?required=1",
            ), path
        security = browser.get("/admin/security?required=1")
        assert security.status_code == 200 and 'id="two-factor-required"' in security.text
        begun = browser.submit("/admin/security/begin", {}, page="/admin/security")
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', begun.text)
        assert secret
        browser.submit(
            "/admin/security/confirm",
            {"password": PASSWORD, "code": current_code(secret.group(1), clock[0])},
            page="/admin/security",
        )
        assert browser.get("/admin/").status_code == 200
        assert 'id="two-factor-required"' not in browser.get("/admin/security?required=1").text
        browser.close()
