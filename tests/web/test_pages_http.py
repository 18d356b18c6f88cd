"""The pages over plain HTTP: accounts, sessions, CSRF, throttling, languages,
settings, and no 500 for any input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account, PasswordReset
from smmpanel.accounts.passwords import issue_reset_token
from smmpanel.db import Database
from smmpanel.panel.settings import put_setting
from tests.factories import make_customer, make_service
from tests.web.conftest import PASSWORD, Browser

NEW_PASSWORD = "another long secret"


def test_sign_up_log_out_log_in(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    home = browser.get("/")
    assert home.status_code == 200 and "Sign up" in home.text
    signed = browser.sign_up("alice")
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    dashboard = browser.get("/")
    assert "Hello, alice" in dashboard.text and "0.00000 USD" in dashboard.text
    with db.read() as session:
        account = session.execute(select(Account).where(Account.username == "alice")).scalar_one()
        assert account.email == "alice@example.com"
        assert account.password_hash and account.password_hash.startswith("$argon2")
        assert PASSWORD not in account.password_hash
    assert browser.log_out().status_code == 303
    assert "Hello" not in browser.get("/").text
    assert browser.get("/account").headers["location"] == "/login"
    wrong = browser.log_in("alice", "not the password")
    assert wrong.status_code == 400 and "wrong username or password" in wrong.text
    assert browser.log_in("alice").status_code == 303
    assert "Hello, alice" in browser.get("/").text


def test_sign_up_refusals_are_shown(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    browser.sign_up("taken")
    other: Browser = browser_factory()
    for data, message in [
        ({"username": "taken"}, "exists already"),
        ({"username": "bad name!"}, "a username is 1-64"),
        ({"username": "ok", "password": "short"}, "at least 8 characters"),
        ({"username": "ok", "email": "not-an-email"}, "name@example.com"),
        ({"username": ""}, "This field is required."),
    ]:
        form = {"username": "x", "email": "x@example.com", "password": PASSWORD} | data
        answer = other.submit("/signup", form)
        assert answer.status_code == 400, data
        assert message in answer.text, (data, answer.text[:2000])


def test_sign_up_can_be_turned_off(db: Database, browser_factory: Any) -> None:
    with db.write() as session:
        put_setting(session, "signup", "off")
    browser: Browser = browser_factory()
    assert "/signup" not in browser.get("/").text
    assert browser.get("/signup").status_code == 404


def test_change_password_logs_out_the_other_sessions(db: Database, browser_factory: Any) -> None:
    first: Browser = browser_factory()
    first.sign_up("bob")
    second: Browser = browser_factory()
    second.log_in("bob")
    assert "Hello, bob" in second.get("/").text
    wrong = first.submit("/account", {"current": "wrong password", "new": NEW_PASSWORD})
    assert wrong.status_code == 400 and "the current password is wrong" in wrong.text
    changed = first.submit("/account", {"current": PASSWORD, "new": NEW_PASSWORD})
    assert changed.headers["location"] == "/account?changed=1"
    assert "other sessions are logged out" in first.get("/account?changed=1").text
    assert "Hello, bob" in first.get("/").text  # this session follows the change
    assert "Hello" not in second.get("/").text  # the other one is logged out
    assert second.log_in("bob").status_code == 400
    assert second.log_in("bob", NEW_PASSWORD).status_code == 303


def test_reset_link_works_once(db: Database, browser_factory: Any) -> None:
    make_customer(db, username="carol")  # made by the owner: no password yet
    token = issue_reset_token(db, username="carol")
    with db.read() as session:
        stored = session.scalars(select(PasswordReset.token_hash)).all()
    assert token not in stored and len(stored) == 1  # kept hashed
    browser: Browser = browser_factory()
    page = browser.get(f"/reset/{token}")
    assert page.status_code == 200 and "carol" in page.text
    assert browser.submit(f"/reset/{token}", {"password": "short"}).status_code == 400
    done = browser.submit(f"/reset/{token}", {"password": NEW_PASSWORD})
    assert done.status_code == 303
    assert "Hello, carol" in browser.get("/").text
    assert browser.get(f"/reset/{token}").status_code == 404  # used up
    assert browser.get("/reset/not-a-token").status_code == 404
    other: Browser = browser_factory()
    assert other.log_in("carol", NEW_PASSWORD).status_code == 303


def test_expired_reset_link_is_refused(db: Database, browser_factory: Any) -> None:
    from datetime import timedelta

    make_customer(db, username="dave")
    token = issue_reset_token(db, username="dave", ttl=timedelta(seconds=-1))
    assert browser_factory().get(f"/reset/{token}").status_code == 404


def test_post_without_csrf_token_is_403(db: Database, browser_factory: Any, web_url: str) -> None:
    browser: Browser = browser_factory()
    browser.sign_up("erin")
    for path, data in [
        ("/account", {"current": PASSWORD, "new": NEW_PASSWORD}),
        ("/logout", {}),
        ("/language", {"language": "ru"}),
        ("/login", {"username": "erin", "password": PASSWORD}),
    ]:
        refused = browser.http.post(path, data=data)
        assert refused.status_code == 403, path
        assert "security token" in refused.text
        forged = browser.http.post(path, data=data | {"csrf_token": "forged"})
        assert forged.status_code == 403, path
    # A token from another session is refused too.
    stranger: Browser = browser_factory()
    token = stranger.token("/login")
    stolen = browser.http.post(
        "/account", data={"csrf_token": token, "current": PASSWORD, "new": NEW_PASSWORD}
    )
    assert stolen.status_code == 403
    assert "Hello, erin" in browser.get("/").text  # nothing changed


def test_login_throttled_per_account(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    browser.sign_up("frank")
    browser.log_out()
    for _ in range(5):
        assert "wrong username or password" in browser.log_in("frank", "bad guess!").text
    refused = browser.log_in("frank")  # even the right password, now
    assert refused.status_code == 400 and "too many failed logins" in refused.text
    assert browser.log_in("somebody-else", "whatever1").status_code == 400


def test_language_from_browser_and_switch(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    russian = browser.get("/", headers={"accept-language": "ru-RU,ru;q=0.9,en;q=0.8"})
    assert "Войти" in russian.text and 'lang="ru"' in russian.text
    assert "Log in" in browser.get("/", headers={"accept-language": "de, en;q=0.5"}).text
    browser.submit("/language", {"language": "ru", "back": "/terms"}, page="/")
    assert "Условия" in browser.get("/terms").text
    browser.sign_up("gina")  # signs up in Russian: the account keeps it
    with db.read() as session:
        assert session.scalar(select(Account.language).where(Account.username == "gina")) == "ru"
    browser.submit("/language", {"language": "en", "back": "//evil.example"}, page="/")
    other: Browser = browser_factory()
    other.log_in("gina")
    assert "Hello, gina" in other.get("/", headers={"accept-language": "ru"}).text
    refused = browser.submit("/language", {"language": "xx"}, page="/")
    assert refused.status_code == 400


def test_language_switch_stays_on_site(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    for back in ("//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://evil.example"):
        answer = browser.submit("/language", {"language": "ru", "back": back}, page="/")
        assert answer.headers["location"] == "/", back
    answer = browser.submit("/language", {"language": "en", "back": "/terms"}, page="/")
    assert answer.headers["location"] == "/terms"


def test_setting_texts_are_bounded(db: Database) -> None:
    from smmpanel.panel.errors import InvalidSetting

    with db.write() as session, pytest.raises(InvalidSetting, match="at most 255"):
        put_setting(session, "terms", "x" * 256)


def test_public_services_with_search(db: Database, browser_factory: Any) -> None:
    make_service(db, name="Instagram Followers")
    make_service(db, name="YouTube Views")
    browser: Browser = browser_factory()
    page = browser.get("/services")
    assert "Instagram Followers" in page.text and "YouTube Views" in page.text
    found = browser.get("/services", params={"q": "youtube"})
    assert "YouTube Views" in found.text and "Instagram Followers" not in found.text
    with db.write() as session:
        put_setting(session, "public_services", "off")
    assert browser.get("/services").status_code == 404
    browser.sign_up("hank")
    assert "YouTube Views" in browser.get("/services").text  # customers always see it


def test_panel_name_and_terms_from_settings(db: Database, browser_factory: Any) -> None:
    with db.write() as session:
        put_setting(session, "panel_name", "Boost <b>Shop</b>")
        put_setting(session, "terms", "No refunds after 30 days.")
    browser: Browser = browser_factory()
    home = browser.get("/")
    assert "Boost &lt;b&gt;Shop&lt;/b&gt;" in home.text
    assert "No refunds after 30 days." in browser.get("/terms").text


def test_api_v2_is_untouched(db: Database, web_url: str) -> None:
    customer = make_customer(db)
    with httpx.Client(base_url=web_url) as http:
        answer = http.post("/api/v2", data={"key": customer.key, "action": "balance"})
        assert answer.json() == {"balance": "100.00000", "currency": "USD"}
        assert "set-cookie" not in answer.headers
        assert "content-security-policy" not in answer.headers
        assert http.get("/healthz").json()["checks"]["database"] == {"ok": True}
        assert http.get("/api/v2/x").json() == {"error": "Not found"}


def test_security_headers_and_static_files(web_url: str) -> None:
    with httpx.Client(base_url=web_url) as http:
        page = http.get("/")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert http.get("/static/vendor/htmx/htmx.min.js").status_code == 200
        assert http.get("/static/vendor/pico/pico.min.css").status_code == 200
        assert http.get("/static/../config.py").status_code == 404


JUNK = ["", "\x00", "é" * 3000, "<script>alert(1)</script>", "%", "%(x)s", "{{7*7}}", "a" * 100_000]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login",
        "/signup",
        "/account",
        "/logout",
        "/language",
        "/terms",
        "/services",
        "/reset/x",
        "/nope",
    ],
)
def test_bad_input_never_500(db: Database, browser_factory: Any, path: str) -> None:
    browser: Browser = browser_factory()
    browser.sign_up("ivy")
    token = browser.token("/account")
    for junk in JUNK:
        for method in ("GET", "POST", "PUT", "DELETE"):
            data = {"csrf_token": token, "username": junk, "email": junk, "password": junk}
            data |= {"current": junk, "new": junk, "language": junk, "back": junk}
            answer = browser.http.request(method, path, params={"q": junk[:2000]}, data=data)
            assert answer.status_code < 500, (path, method, junk[:20], answer.text[:500])
    for headers, body in [
        ({"content-type": "application/json"}, b'{"csrf_token": '),
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x\r\nbroken"),
        ({"content-type": "text/plain"}, b"x"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"\xff\xfe=%%%"),
        ({"cookie": "smmpanel_session=garbage"}, b""),
    ]:
        answer = browser.http.post(path, content=body, headers=headers)
        assert answer.status_code < 500, (path, headers, answer.text[:500])


def test_login_throttled_per_ip(db: Database) -> None:
    from smmpanel.accounts.passwords import (
        LoginRefused,
        LoginThrottled,
        Throttle,
        log_in,
        set_password,
    )

    make_customer(db, username="ursula")
    set_password(db, username="ursula", password=PASSWORD)
    throttle = Throttle(per_ip=3, per_user=100)
    for name in ("a", "b", "c"):  # three usernames, one IP
        with pytest.raises(LoginRefused):
            log_in(db, username=name, password="guess guess", ip="203.0.113.9", throttle=throttle)
    with pytest.raises(LoginThrottled):
        log_in(db, username="ursula", password=PASSWORD, ip="203.0.113.9", throttle=throttle)
    # Another address is not held back by this one's failures.
    assert log_in(db, username="ursula", password=PASSWORD, ip="198.51.100.7", throttle=throttle)


def test_a_suspended_account_is_logged_out(db: Database, browser_factory: Any) -> None:
    from smmpanel.accounts.service import set_account_options

    browser: Browser = browser_factory()
    browser.sign_up("victor")
    assert "Hello, victor" in browser.get("/").text
    set_account_options(db, username="victor", status="suspended")
    assert "Hello" not in browser.get("/").text
    assert browser.log_in("victor").status_code == 400
