"""Staff browsers for the admin's tests: a member of a role, made through the
domain command and logged in over HTTP (with the CSRF token, as a browser)."""

from __future__ import annotations

from collections.abc import Callable

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.staff.service import add_staff
from tests.web.conftest import PASSWORD, Browser


def staff_browser(
    db: Database,
    browser_factory: Callable[[], Browser],
    *,
    role: str = "owner",
    username: str | None = None,
) -> Browser:
    """A browser logged in to /admin as a new staff member of `role`."""
    name = username or role
    add_staff(db, username=name, role=role, password=PASSWORD, actor=Actor("cli", "tests"))
    browser = browser_factory()
    done = browser.submit("/admin/login", {"username": name, "password": PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/admin/", done.text[:300]
    return browser
