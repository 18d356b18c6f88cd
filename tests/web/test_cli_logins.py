"""`smmpanel users reset-link` and the demo's web login."""

from __future__ import annotations

import re

import httpx
import pytest

from smmpanel.accounts.passwords import log_in
from smmpanel.db import Database
from tests.cli.conftest import Run
from tests.cli.conftest import run as run  # the `smmpanel` fixture of tests/cli
from tests.factories import make_customer
from tests.web.conftest import Browser

LINK = re.compile(r"^(http://\S+)/reset/(\S+)$", re.M)


def test_reset_link_sets_the_password_on_the_web(
    run: Run, db: Database, web_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_customer(db, username="olga")
    monkeypatch.setenv("SMMPANEL_PUBLIC_URL", "https://panel.example.com/")
    printed = run("users", "reset-link", "olga", "--hours", "2").stdout
    found = LINK.search(printed.replace("https://panel.example.com", "http://panel"))
    assert found, printed
    assert "https://panel.example.com/reset/" in printed
    token = found.group(2)
    browser = Browser(web_url)
    try:
        answer = browser.submit(f"/reset/{token}", {"password": "olga's new password"})
        assert answer.status_code == 303
    finally:
        browser.close()
    assert log_in(db, username="olga", password="olga's new password", ip="t").username == "olga"
    assert "no account 'nobody'" in run("users", "reset-link", "nobody", ok=False).stderr


def test_the_demo_prints_a_web_login_that_works(run: Run, db: Database) -> None:
    printed = run("demo", "--no-serve", "--port", "8123").stdout
    found = re.search(
        r"panel: +http://127\.0\.0\.1:8123 +\(log in as demo, password (\S+)\)", printed
    )
    assert found, printed
    user = log_in(db, username="demo", password=found.group(1), ip="t")
    assert user.balance > 0


def test_pages_answer_beside_the_api_in_serve(db: Database, web_url: str) -> None:
    with httpx.Client(base_url=web_url) as http:
        assert "<html" in http.get("/").text
        assert http.get("/api").json() == {"error": "Not found"}
        assert http.get("/api/v3").json() == {"error": "Not found"}
