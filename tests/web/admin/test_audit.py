"""The admin's audit log over HTTP: newest first, keyset pages, filters by actor
(exact or a kind), action, subject (exact or a kind) and dates returning
exactly the expected rows, before/after shown; who may read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from smmpanel.audit.models import Actor, AuditAction, AuditEntry
from smmpanel.audit.queries import AuditFilter, search_audit
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.panel.settings import change_setting
from tests.factories import make_customer
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import Browser

ROW = re.compile(r'<tr data-entry="(\d+)"')
OLGA, ROOT = Actor("staff", "olga"), Actor("cli", "root")


def _shown(browser: Browser, query: str = "") -> list[int]:
    page = browser.get(f"/admin/audit{query}")
    assert page.status_code == 200, page.text[:300]
    return [int(found) for found in ROW.findall(page.text)]


def _ids(db: Database, **where: Any) -> list[int]:
    """Ids of the rows with these column values, newest first."""
    query = select(AuditEntry.id).order_by(AuditEntry.id.desc())
    for column, value in where.items():
        query = query.where(getattr(AuditEntry, column) == value)
    with db.read() as session:
        return list(session.scalars(query))


def test_filters_return_exactly_the_expected_rows(db: Database, browser_factory: Any) -> None:
    alice = make_customer(db, "alice", balance="0")
    bob = make_customer(db, "bob", balance="0")
    fund_account(db, username="alice", amount="5", note="cash", actor=ROOT)
    fund_account(db, username="bob", amount="7", note="bank", actor=OLGA)
    change_setting(db, key="default_refill_days", value="45", actor=OLGA)
    manager = staff_browser(db, browser_factory, role="manager", username="mia")
    everything = _ids(db)
    assert _shown(manager) == everything  # newest first, one page

    funded_by_olga, funded_by_root = _ids(db, action="account_funded")  # newest first
    [setting] = _ids(db, action="setting_changed")
    [mia_login] = _ids(db, actor="staff:mia")
    assert _shown(manager, "?actor=staff:olga") == [setting, funded_by_olga]
    assert _shown(manager, "?actor=cli:root") == [funded_by_root]
    assert _shown(manager, "?actor=staff") == [mia_login, setting, funded_by_olga]
    assert _shown(manager, "?actor=STAFF:") == [mia_login, setting, funded_by_olga]
    assert _shown(manager, "?actor=staff:ol") == []  # a name is matched whole
    assert _shown(manager, "?action=account_funded") == [funded_by_olga, funded_by_root]
    bobs = _ids(db, subject=f"account:{bob.id}")
    assert len(bobs) == 2 and _shown(manager, f"?subject=account:{bob.id}") == bobs
    alices = _ids(db, subject=f"account:{alice.id}")
    assert _shown(manager, "?subject=account") == sorted(alices + bobs, reverse=True)
    assert _shown(manager, f"?subject=account:{alice.id}&actor=staff") == []
    assert _shown(manager, f"?subject=account:{bob.id}&action=account_funded&actor=staff:olga") == [
        funded_by_olga
    ]
    today = datetime.now(UTC).date()
    day = timedelta(days=1)
    assert _shown(manager, f"?from={today}&to={today}") == everything
    assert _shown(manager, f"?from={today + day}") == []
    assert _shown(manager, f"?to={today - day}") == []

    page = manager.get("/admin/audit?action=setting_changed").text
    assert "setting:default_refill_days" in page
    assert "<del>30</del> → <ins>45</ins>" in page  # before and after, readably
    funded = manager.get(f"/admin/audit?subject=account:{bob.id}&action=account_funded").text
    assert "<del>0.00000</del> → <ins>7.00000</ins>" in funded and "bank" in funded


def test_bad_filters_are_a_400_with_the_reason(db: Database, browser_factory: Any) -> None:
    owner = staff_browser(db, browser_factory, role="owner", username="olga")
    for query, message in (
        ("?actor=staff olga", "Write kind:name"),
        ("?subject=%25", "Write kind:name"),
        ("?action=drop_tables", "Unknown action."),
        ("?from=yesterday", "A date is written YYYY-MM-DD."),
        ("?before=-1", "Not a page of this list."),
        ("?actor=" + "x" * 500, "Write kind:name"),
    ):
        answer = owner.get(f"/admin/audit{query}")
        assert answer.status_code == 400 and message in answer.text, query


def test_pages_go_older_and_newer_by_id(db: Database, browser_factory: Any) -> None:
    make_customer(db, "alice", balance="0")
    for n in range(55):
        fund_account(db, username="alice", amount="1", note=f"n{n}", actor=ROOT)
    owner = staff_browser(db, browser_factory, role="owner", username="olga")
    funded = _ids(db, action="account_funded")
    assert len(funded) == 55
    first = owner.get("/admin/audit?action=account_funded").text
    assert [int(i) for i in ROW.findall(first)] == funded[:50]
    older = re.search(r'href="([^"]+)" id="older"', first)
    assert older is not None and 'id="newer"' not in first
    second = owner.get(older[1].replace("&amp;", "&")).text
    assert [int(i) for i in ROW.findall(second)] == funded[50:]
    assert 'id="older"' not in second
    newer = re.search(r'href="([^"]+)" id="newer"', second)
    assert newer is not None
    back = owner.get(newer[1].replace("&amp;", "&")).text
    assert [int(i) for i in ROW.findall(back)] == funded[:50]
    # The domain's keyset, small pages: no row twice, none left out.
    seen: list[int] = []
    before = None
    while True:
        page = search_audit(db, AuditFilter(actor="cli:root"), before=before, limit=7)
        seen += [row.id for row in page.rows]
        if page.older is None:
            break
        before = page.older
    assert seen == funded


def test_who_may_read_the_audit_log(db: Database, browser_factory: Any) -> None:
    support = staff_browser(db, browser_factory, role="support", username="sam")
    assert support.get("/admin/audit").status_code == 403
    assert 'href="/admin/audit"' not in support.get("/admin/").text
    for role in ("manager", "owner"):
        browser = staff_browser(db, browser_factory, role=role)
        assert browser.get("/admin/audit").status_code == 200
    customer = browser_factory()
    assert customer.sign_up("carol").status_code == 303
    assert customer.get("/admin/audit").headers["location"] == "/admin/login"
    russian = support.get("/admin/queues", headers={"accept-language": "ru"})
    assert russian.status_code == 200
    owner_ru = staff_browser(db, browser_factory, role="owner", username="olga")
    page = owner_ru.get("/admin/audit", headers={"accept-language": "ru"}).text
    assert "Журнал действий" in page and "staff:olga" in page
    assert AuditAction.STAFF_LOGGED_IN.value in page
