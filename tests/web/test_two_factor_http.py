"""Two-factor authentication over HTTP: set-up on the account's page, the
login's second step (no session before the code), throttled wrong codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from smmpanel.accounts import two_factor
from smmpanel.accounts.models import Account
from smmpanel.accounts.two_factor import current_code
from smmpanel.db import Database
from smmpanel.timeutil import utcnow
from tests.web.conftest import PASSWORD, Browser

SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')


def enable(browser: Browser) -> str:
    """Turn 2FA on from the account's page; returns the secret the page shows.
    The confirming code is of the current time step: a login right after
    needs the next step's code (`next_code`)."""
    begun = browser.submit("/account/2fa/begin", {}, page="/account/2fa")
    assert (begun.status_code, begun.headers["location"]) == (303, "/account/2fa")
    shown = browser.get("/account/2fa")
    found = SECRET.search(shown.text)
    assert found, shown.text[:3000]
    assert "<svg" in shown.text and "otpauth" not in shown.text.split("<svg", 1)[1]
    secret = found.group(1)
    confirmed = browser.submit(
        "/account/2fa/confirm",
        {"password": PASSWORD, "code": pyotp.TOTP(secret).now()},
        page="/account/2fa",
    )
    assert confirmed.headers["location"] == "/account/2fa?done=on", confirmed.text[:2000]
    return secret


def next_code(secret: str) -> str:
    return current_code(secret, utcnow() + timedelta(seconds=30))


def test_enable_then_log_in_with_a_code(
    db: Database, browser_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The panel's clock is the test's: a code computed here is of the step the
    # panel checks, whatever the wall clock does between two requests.
    clock = [datetime(2026, 6, 1, 12, 0, 15, tzinfo=UTC)]
    monkeypatch.setattr(two_factor, "utcnow", lambda: clock[0])
    browser: Browser = browser_factory()
    browser.sign_up("alice")
    page = browser.get("/account")
    assert 'href="/account/2fa"' in page.text
    assert "Off: logging in takes your password only." in browser.get("/account/2fa").text

    browser.submit("/account/2fa/begin", {}, page="/account/2fa")
    secret = SECRET.search(browser.get("/account/2fa").text).group(1)  # type: ignore[union-attr]
    wrong_code = "000000"
    window = {current_code(secret, clock[0] + timedelta(seconds=30 * s)) for s in (-1, 0, 1)}
    if wrong_code in window:
        wrong_code = "999999"  # one chance in ~330,000 that 000000 is right
    wrong = browser.submit(
        "/account/2fa/confirm", {"password": PASSWORD, "code": wrong_code}, page="/account/2fa"
    )
    assert wrong.status_code == 400 and "the code is wrong" in wrong.text
    bad_password = browser.submit(
        "/account/2fa/confirm",
        {"password": "nope nope", "code": current_code(secret, clock[0])},
        page="/account/2fa",
    )
    assert bad_password.status_code == 400 and "the password is wrong" in bad_password.text
    confirmed = browser.submit(
        "/account/2fa/confirm",
        {"password": PASSWORD, "code": current_code(secret, clock[0])},
        page="/account/2fa",
    )
    assert confirmed.headers["location"] == "/account/2fa?done=on"
    assert "Hello, alice" in browser.get("/").text  # this session follows the new epoch
    assert "Turn two-factor authentication off" in browser.get("/account/2fa").text
    with db.read() as session:
        stored = session.scalar(select(Account.totp_secret).where(Account.username == "alice"))
    assert stored and stored.startswith("enc1:") and secret not in stored

    browser.log_out()
    sent = browser.log_in("alice")
    assert (sent.status_code, sent.headers["location"]) == (303, "/login/code")
    # No session yet: the password alone logs nobody in.
    assert "Hello" not in browser.get("/").text
    assert browser.get("/account").headers["location"] == "/login"
    assert browser.get("/login/code").status_code == 200
    refused = browser.submit("/login/code", {"code": "12345"})
    assert refused.status_code == 400 and "the code is wrong or used already" in refused.text
    # The confirming code's step is used: the same code does not log in.
    reused = browser.submit("/login/code", {"code": current_code(secret, clock[0])})
    assert reused.status_code == 400 and "the code is wrong or used already" in reused.text
    clock[0] += timedelta(seconds=30)
    done = browser.submit("/login/code", {"code": current_code(secret, clock[0])})
    assert (done.status_code, done.headers["location"]) == (303, "/")
    assert "Hello, alice" in browser.get("/").text
    # The same code again, from another browser, is refused: a code works once.
    other: Browser = browser_factory()
    other.log_in("alice")
    again = other.submit("/login/code", {"code": current_code(secret, clock[0])})
    assert again.status_code == 400 and "Hello" not in other.get("/").text


def test_wrong_codes_are_throttled(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    browser.sign_up("bob")
    secret = enable(browser)
    browser.log_out()
    browser.log_in("bob")
    for _ in range(5):  # the tests' per-username limit
        assert browser.submit("/login/code", {"code": "abcdef"}).status_code == 400
    throttled = browser.submit("/login/code", {"code": next_code(secret)})
    assert throttled.status_code == 400 and "too many failed logins" in throttled.text
    assert "Hello" not in browser.get("/").text
    # The password step is throttled too now: wrong codes count as failed logins.
    assert "too many failed logins" in browser_factory().log_in("bob").text


def test_code_page_needs_a_pending_login_and_csrf(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    assert browser.get("/login/code").headers["location"] == "/login"
    assert browser.http.post("/login/code", data={"code": "123456"}).status_code == 403
    browser.sign_up("carol")
    enable(browser)
    browser.log_out()
    browser.log_in("carol")
    assert browser.http.post("/login/code", data={"code": "123456"}).status_code == 403
    for path in ("/account/2fa/begin", "/account/2fa/confirm", "/account/2fa/disable"):
        assert browser.http.post(path, data={}).status_code == 403, path


def test_disable_and_bad_input(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    browser.sign_up("dave")
    secret = enable(browser)
    for data in [
        {"password": PASSWORD, "code": "x" * 5000},
        {"password": "", "code": ""},
        {"password": PASSWORD, "code": "１２３４５６"},  # noqa: RUF001 - full-width digits
        {"password": PASSWORD},
    ]:
        answer = browser.submit("/account/2fa/disable", data, page="/account/2fa")
        assert answer.status_code == 400, (data, answer.text[:500])
    for path in ("/account/2fa/begin", "/account/2fa/confirm", "/account/2fa/disable"):
        assert browser.get(path).status_code == 303
    on_again = browser.submit("/account/2fa/begin", {}, page="/account/2fa")
    assert on_again.status_code == 400 and "on already" in on_again.text
    off = browser.submit(
        "/account/2fa/disable",
        {"password": PASSWORD, "code": next_code(secret)},
        page="/account/2fa",
    )
    assert off.headers["location"] == "/account/2fa?done=off"
    browser.log_out()
    assert browser.log_in("dave").headers["location"] == "/"
    # Visitors are sent to the login page.
    assert browser_factory().get("/account/2fa").headers["location"] == "/login"


def test_russian_page(db: Database, browser_factory: Any) -> None:
    browser: Browser = browser_factory()
    browser.submit("/language", {"language": "ru", "back": "/"}, page="/")
    browser.sign_up("erin")
    page = browser.get("/account/2fa")
    assert "Двухфакторная аутентификация" in page.text
    assert "Настроить двухфакторную аутентификацию" in page.text
