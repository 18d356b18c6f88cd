"""What the admin queue tests share: posting a queue's decision as its page
does, reading the items a queue lists, and the audit rows of an action."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import select

from smmpanel.audit.models import AuditEntry
from smmpanel.db import Database
from tests.web.conftest import Browser

ITEM = re.compile(r'<tr data-item="(\d+)"')
COUNT = re.compile(r'id="tab-(\w+)"[^>]*>\s*[^<]*<span class="count" data-count="(\w+)"')


def queue_page(browser: Browser, tab: str) -> httpx.Response:
    return browser.get(f"/admin/queues?tab={tab}")


def listed(browser: Browser, tab: str) -> list[int]:
    """The items the tab lists, in its order."""
    page = queue_page(browser, tab)
    assert page.status_code == 200, page.text[:300]
    return [int(found) for found in ITEM.findall(page.text)]


def counts(page: str) -> dict[str, str]:
    return dict(COUNT.findall(page))


def decide(
    browser: Browser, tab: str, action: str, ids: Sequence[int] = (), **fields: Any
) -> httpx.Response:
    """Post the tab's form: `action` ("approve" for the ticked `ids`, or
    "approve:12" for one row's button) with the page's CSRF token."""
    token = browser.token(f"/admin/queues?tab={tab}")
    data: dict[str, Any] = {"csrf_token": token, "action": action, "id": [str(i) for i in ids]}
    data.update(fields)
    return browser.http.post(f"/admin/queues/{tab}", data=data)


def decided(browser: Browser, tab: str, action: str, ids: Sequence[int] = (), **fields: Any) -> str:
    """Decide, check the redirect back to the tab, and return its page (with the summary)."""
    answer = decide(browser, tab, action, ids, **fields)
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"] == f"/admin/queues?tab={tab}"
    return queue_page(browser, tab).text


def audit_rows(db: Database, action: str) -> list[tuple[str, str]]:
    """(actor, subject) of the audit rows of `action`, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.subject)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [(actor, subject) for actor, subject in rows]
