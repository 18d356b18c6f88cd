"""The admin's ticket desk over HTTP: the inbox's filters and pages, answer,
close and assign (audited as the staff member), canned answers, grants from a
ticket, and who may do what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.accounts.service import set_currency_rate
from smmpanel.audit.models import Actor
from smmpanel.catalog.models import AccountServiceRate
from smmpanel.db import Database
from smmpanel.staff.service import add_staff
from smmpanel.support import desk
from smmpanel.support.inbox import InboxFilter, inbox
from smmpanel.support.queries import ticket_thread
from smmpanel.support.service import close_ticket, open_ticket, reply_as_owner
from tests.factories import import_reference_catalog, make_customer, make_service
from tests.web.admin.desk_helpers import audit_rows
from tests.web.admin_helpers import staff_browser
from tests.web.conftest import PASSWORD, Browser

Factory = Callable[[], Browser]


def _ticket(db: Database, account_id: int, subject: str = "other", text: str = "help") -> int:
    return open_ticket(db, account_id=account_id, subject_kind=subject, message=text)


def _ids(page: httpx.Response) -> list[int]:
    import re

    return [int(i) for i in re.findall(r'data-ticket="(\d+)"', page.text)]


def test_inbox_filters_by_status_subject_and_assignment(
    db: Database, browser_factory: Factory
) -> None:
    owner = staff_browser(db, browser_factory)
    alice = make_customer(db)
    waiting = _ticket(db, alice.id, "order")
    answered = _ticket(db, alice.id, "payment")
    reply_as_owner(db, ticket_id=answered, message="done")
    closed = _ticket(db, alice.id, "api")
    close_ticket(db, ticket_id=closed)
    mine = _ticket(db, alice.id, "refill")
    desk.assign_ticket(db, ticket_id=mine, staff_username="owner", actor=Actor.system())
    add_staff(db, username="sue", role="support", password=PASSWORD, actor=Actor.system())
    theirs = _ticket(db, alice.id, "other")
    desk.assign_ticket(db, ticket_id=theirs, staff_username="sue", actor=Actor.system())

    assert _ids(owner.get("/admin/tickets")) == [theirs, mine, closed, answered, waiting]
    assert _ids(owner.get("/admin/tickets?status=open")) == [theirs, mine, waiting]
    assert _ids(owner.get("/admin/tickets?status=answered")) == [answered]
    assert _ids(owner.get("/admin/tickets?status=closed")) == [closed]
    assert _ids(owner.get("/admin/tickets?subject=payment")) == [answered]
    assert _ids(owner.get("/admin/tickets?assigned=me")) == [mine]
    assert _ids(owner.get("/admin/tickets?assigned=anyone")) == [theirs, mine]
    assert _ids(owner.get("/admin/tickets?assigned=nobody")) == [closed, answered, waiting]
    assert _ids(owner.get("/admin/tickets?status=open&assigned=nobody")) == [waiting]
    # A value not in the list is no filter at all (never a 500).
    assert _ids(owner.get("/admin/tickets?status=%00bad&assigned=x")) == _ids(
        owner.get("/admin/tickets")
    )
    page = owner.get("/admin/tickets?assigned=anyone")
    assert page.status_code == 200 and ">sue<" in page.text


def test_inbox_pages_by_keyset(db: Database, browser_factory: Factory) -> None:
    alice = make_customer(db)
    ids = [_ticket(db, alice.id) for _ in range(7)]
    first = inbox(db, InboxFilter(), size=3)
    assert [t.id for t in first.rows] == ids[::-1][:3] and first.newer is None
    second = inbox(db, InboxFilter(), before=first.older, size=3)
    assert [t.id for t in second.rows] == ids[::-1][3:6] and second.newer == ids[3]
    last = inbox(db, InboxFilter(), before=second.older, size=3)
    assert [t.id for t in last.rows] == [ids[0]] and last.older is None
    back = inbox(db, InboxFilter(), after=last.rows[0].id, size=3)
    assert [t.id for t in back.rows] == [t.id for t in second.rows]
    owner = staff_browser(db, browser_factory)
    page = owner.get(f"/admin/tickets?status=open&before={ids[2]}")
    assert (
        _ids(page) == [ids[1], ids[0]]
        and 'href="/admin/tickets?status=open&amp;after=' in page.text
    )


def test_answer_close_and_assign_are_audited_as_the_staff_member(
    db: Database, browser_factory: Factory
) -> None:
    support = staff_browser(db, browser_factory, role="support", username="sue")
    alice = make_customer(db)
    ticket = _ticket(db, alice.id, text="<b>where is my order?</b>")
    page = support.get(f"/admin/tickets/{ticket}")
    assert page.status_code == 200
    assert "&lt;b&gt;where is my order?&lt;/b&gt;" in page.text and "<b>where" not in page.text

    done = support.submit(f"/admin/tickets/{ticket}/answer", {"message": "On its way."})
    assert done.status_code == 303 and done.headers["location"] == f"/admin/tickets/{ticket}"
    thread = ticket_thread(db, ticket_id=ticket)
    assert thread.ticket.status == "answered" and thread.ticket.unread_by_customer
    assert [(m.author, m.body, m.staff_name) for m in thread.messages][-1] == (
        "owner",
        "On its way.",
        "sue",
    )
    assert audit_rows(db, "ticket_replied")[-1]["actor"] == "staff:sue"
    assert ">sue</strong>" in support.get(f"/admin/tickets/{ticket}").text

    assert (
        support.submit(
            f"/admin/tickets/{ticket}/assign", {"staff": "sue"}, page=f"/admin/tickets/{ticket}"
        ).status_code
        == 303
    )
    assert ticket_thread(db, ticket_id=ticket).ticket.assigned_to == "sue"
    [row] = audit_rows(db, "ticket_assigned")
    assert row == {
        "actor": "staff:sue",
        "subject": f"ticket:{ticket}",
        "before": {"assigned_to": None},
        "after": {"assigned_to": "sue"},
    }
    refused = support.submit(
        f"/admin/tickets/{ticket}/assign", {"staff": "nobody-here"}, page=f"/admin/tickets/{ticket}"
    )
    assert refused.status_code == 400 and "no staff member named nobody-here" in refused.text
    assert (
        support.submit(
            f"/admin/tickets/{ticket}/assign", {"staff": ""}, page=f"/admin/tickets/{ticket}"
        ).status_code
        == 303
    )
    assert ticket_thread(db, ticket_id=ticket).ticket.assigned_to is None

    closed = support.submit(f"/admin/tickets/{ticket}/close", {}, page=f"/admin/tickets/{ticket}")
    assert closed.status_code == 303
    assert ticket_thread(db, ticket_id=ticket).ticket.status == "closed"
    assert audit_rows(db, "ticket_closed")[-1]["actor"] == "staff:sue"


def test_bad_answers_are_shown_not_stored(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    ticket = _ticket(db, make_customer(db).id)
    path = f"/admin/tickets/{ticket}"
    empty = owner.submit(path + "/answer", {"message": "   "}, page=path)
    assert empty.status_code == 400
    long = owner.submit(path + "/answer", {"message": "x" * 5001}, page=path)
    assert long.status_code == 400
    assert len(ticket_thread(db, ticket_id=ticket).messages) == 1
    assert owner.get("/admin/tickets/99999").status_code == 404
    assert owner.get("/admin/tickets/abc").status_code == 404
    assert (
        owner.submit("/admin/tickets/99999/answer", {"message": "hi"}, page=path).status_code == 404
    )


def test_a_canned_answer_is_saved_inserted_and_sent(db: Database, browser_factory: Factory) -> None:
    support = staff_browser(db, browser_factory, role="support", username="sue")
    ticket = _ticket(db, make_customer(db).id)
    saved = support.submit(
        "/admin/tickets/canned",
        {"title": "Refill", "body": "Refills start within 24 hours."},
        page="/admin/tickets",
    )
    assert saved.status_code == 303
    [canned] = desk.canned_answers(db)
    assert (canned.title, canned.body) == ("Refill", "Refills start within 24 hours.")
    assert audit_rows(db, "canned_answer_saved")[0]["actor"] == "staff:sue"
    assert "Refills start within 24 hours." in support.get("/admin/tickets").text

    # Picking it (a plain GET form, no JavaScript) fills the answer box ...
    page = support.get(f"/admin/tickets/{ticket}?canned={canned.id}")
    assert "\nRefills start within 24 hours.</textarea>" in page.text
    # ... which the staff member sends, edited or not.
    support.submit(
        f"/admin/tickets/{ticket}/answer",
        {"message": "Refills start within 24 hours."},
        page=f"/admin/tickets/{ticket}",
    )
    assert ticket_thread(db, ticket_id=ticket).messages[-1].body == "Refills start within 24 hours."

    # The same title replaces the text; a bad one is refused with the domain's words.
    support.submit(
        "/admin/tickets/canned", {"title": "Refill", "body": "New."}, page="/admin/tickets"
    )
    assert [c.body for c in desk.canned_answers(db)] == ["New."]
    bad = support.submit(
        "/admin/tickets/canned", {"title": "t" * 150, "body": "x"}, page="/admin/tickets"
    )
    assert bad.status_code == 400 and "a title is at most 100 characters" in bad.text

    gone = support.submit(f"/admin/tickets/canned/{canned.id}/delete", {}, page="/admin/tickets")
    assert gone.status_code == 303 and desk.canned_answers(db) == []
    assert audit_rows(db, "canned_answer_deleted")[0]["before"] == {"title": "Refill"}


def _services(url: str, key: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.post(
        f"{url}/api/v2", data={"key": key, "action": "services"}
    ).json()
    return answer


def test_granting_extended_fields_from_a_ticket(
    db: Database, browser_factory: Factory, web_url: str
) -> None:
    import_reference_catalog(db)
    manager = staff_browser(db, browser_factory, role="manager", username="max")
    alice = make_customer(db)
    ticket = _ticket(db, alice.id, "api", "May I have the extended fields?")
    assert "desc" not in _services(web_url, alice.key)[0]

    done = manager.submit(
        f"/admin/tickets/{ticket}/grant/extended", {}, page=f"/admin/tickets/{ticket}"
    )
    assert done.status_code == 303
    services = _services(web_url, alice.key)
    assert services[0]["desc"] and services[0]["name_lang"]["en"] == "EN Description"
    last = ticket_thread(db, ticket_id=ticket).messages[-1]
    assert (last.author, last.staff_name) == ("owner", "max")
    assert last.body == "Granted: the API's services list now shows you the extended fields."
    [change] = audit_rows(db, "account_changed")
    assert change["actor"] == "staff:max" and change["after"] == {"extended_fields": True}
    assert audit_rows(db, "ticket_replied")[-1]["actor"] == "staff:max"


def test_granting_a_currency_and_an_own_price(db: Database, browser_factory: Factory) -> None:
    owner = staff_browser(db, browser_factory)
    set_currency_rate(db, code="EUR", rate="0.9")
    alice = make_customer(db, balance="0")
    bob = make_customer(db, username="bob", balance="5")
    service = make_service(db)
    ticket = _ticket(db, alice.id, "payment")
    path = f"/admin/tickets/{ticket}"

    assert owner.submit(path + "/grant/currency", {"currency": "EUR"}, page=path).status_code == 303
    with db.read() as session:
        assert session.scalar(select(Account.currency).where(Account.id == alice.id)) == "EUR"
    assert ticket_thread(db, ticket_id=ticket).messages[-1].body == (
        "Granted: your account is now kept in EUR."
    )
    assert audit_rows(db, "account_currency_changed")[0]["actor"] == "staff:owner"

    # Bob holds money: the domain refuses, and its message is shown.
    bobs = _ticket(db, bob.id, "payment")
    refused = owner.submit(
        f"/admin/tickets/{bobs}/grant/currency", {"currency": "EUR"}, page=f"/admin/tickets/{bobs}"
    )
    assert refused.status_code == 400 and "only change while the balance is zero" in refused.text
    assert len(ticket_thread(db, ticket_id=bobs).messages) == 1

    done = owner.submit(path + "/grant/rate", {"service": str(service), "rate": "0.75"}, page=path)
    assert done.status_code == 303
    with db.read() as session:
        own = session.get(AccountServiceRate, (alice.id, service))
    assert own is not None and own.rate == 75_000
    assert ticket_thread(db, ticket_id=ticket).messages[-1].body == (
        f"Granted: your own price for service {service} is 0.75 USD per 1000."
    )
    assert audit_rows(db, "rate_set")[0]["actor"] == "staff:owner"
    for bad in ({"service": "99999", "rate": "1"}, {"service": str(service), "rate": "-1"}):
        assert owner.submit(path + "/grant/rate", bad, page=path).status_code == 400
    assert (
        owner.submit(path + "/grant/rate", {"service": "x", "rate": "1"}, page=path).status_code
        == 400
    )


def test_support_answers_but_may_not_grant(db: Database, browser_factory: Factory) -> None:
    support = staff_browser(db, browser_factory, role="support", username="sue")
    alice = make_customer(db)
    ticket = _ticket(db, alice.id)
    path = f"/admin/tickets/{ticket}"
    page = support.get(path)
    assert page.status_code == 200 and 'id="grants"' not in page.text
    for grant, data in (
        ("extended", {}),
        ("currency", {"currency": "USD"}),
        ("rate", {"service": "1", "rate": "1"}),
    ):
        assert support.submit(f"{path}/grant/{grant}", data, page=path).status_code == 403
    assert audit_rows(db, "account_changed") == []
    assert len(ticket_thread(db, ticket_id=ticket).messages) == 1


@pytest.mark.parametrize("path", ["answer", "close", "assign", "grant/extended"])
def test_posts_without_the_csrf_token_are_refused(
    db: Database, browser_factory: Factory, path: str
) -> None:
    owner = staff_browser(db, browser_factory)
    ticket = _ticket(db, make_customer(db).id)
    answer = owner.http.post(f"/admin/tickets/{ticket}/{path}", data={"message": "hi"})
    assert answer.status_code == 403
    assert (
        owner.http.post("/admin/tickets/canned", data={"title": "a", "body": "b"}).status_code
        == 403
    )
    assert len(ticket_thread(db, ticket_id=ticket).messages) == 1


def test_customers_and_strangers_cannot_open_the_desk(
    db: Database, browser_factory: Factory
) -> None:
    ticket = _ticket(db, make_customer(db).id)
    stranger = browser_factory()
    answer = stranger.get(f"/admin/tickets/{ticket}")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    customer = browser_factory()
    customer.log_in("alice")
    assert customer.get("/admin/tickets").status_code == 303
