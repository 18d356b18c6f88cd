"""A real panel (API and pages) served over the test's database, and HTTP
clients of its pages that keep their session cookie and read CSRF tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.server import serve_in_thread, site_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


def web_settings(**overrides: Any) -> Settings:
    """The environment's settings (its secret key), the cookie allowed over the
    tests' plain HTTP, a low per-username login throttle, and staff two-factor
    optional."""
    values: dict[str, Any] = {"web_https_only": False, "login_failures_per_user": 5}
    # Staff reach the admin's pages without setting up two-factor first (its own
    # test, tests/web/test_admin_http.py, turns the requirement on).
    values["staff_two_factor"] = False
    return Settings().model_copy(update=values | overrides)


@pytest.fixture
def web_url(db: Database) -> Iterator[str]:
    with serve_in_thread(site_app(db, web_settings())) as url:
        yield url


class Browser:
    """An httpx client that posts forms as a browser does: with the CSRF token
    of the page the form is on."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def token(self, path: str) -> str:
        page = self.http.get(path)
        found = TOKEN.search(page.text)
        assert found, (path, page.status_code, page.text[:500])
        return found.group(1)

    def submit(self, path: str, data: dict[str, str], *, page: str | None = None) -> httpx.Response:
        """Post `data` to `path` with the token of `page` (default: `path` itself)."""
        return self.http.post(path, data={"csrf_token": self.token(page or path), **data})

    def sign_up(self, username: str, email: str = "", password: str = PASSWORD) -> httpx.Response:
        return self.submit(
            "/signup",
            {
                "username": username,
                "email": email or f"{username}@example.com",
                "password": password,
            },
        )

    def log_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return self.submit("/login", {"username": username, "password": password})

    def log_out(self) -> httpx.Response:
        return self.submit("/logout", {}, page="/")

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def browser_factory(web_url: str) -> Iterator[Any]:
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(web_url))
        return made[-1]

    yield make
    for browser in made:
        browser.close()
