"""The ticket desk's domain commands on both databases: assignment's rules,
canned answers' bounds, who an answer is named after, the inbox's filters
matching nothing for an unknown value."""

from __future__ import annotations

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.staff.errors import StaffNotFound
from smmpanel.staff.service import add_staff, set_staff_active
from smmpanel.support import desk
from smmpanel.support.errors import InvalidTicketInput, TicketNotFound
from smmpanel.support.inbox import InboxFilter, inbox
from smmpanel.support.models import MAX_CANNED
from smmpanel.support.queries import customer_tickets, ticket_thread
from smmpanel.support.service import open_ticket, reply_as_owner
from tests.factories import make_customer
from tests.web.admin.desk_helpers import audit_rows

SAM = Actor.staff("sam")


def _staff(db: Database, name: str = "sam") -> None:
    add_staff(db, username=name, role="support", password="pw-long-enough-1", actor=Actor.system())


def test_assignment_rules(db: Database) -> None:
    _staff(db)
    _staff(db, "dan")
    ticket = open_ticket(db, account_id=make_customer(db).id, subject_kind="other", message="hi")
    desk.assign_ticket(db, ticket_id=ticket, staff_username="sam", actor=SAM)
    desk.assign_ticket(db, ticket_id=ticket, staff_username="sam", actor=SAM)  # no change
    assert len(audit_rows(db, "ticket_assigned")) == 1
    set_staff_active(db, username="dan", active=False, actor=Actor.system())
    with pytest.raises(InvalidTicketInput, match="dan is disabled"):
        desk.assign_ticket(db, ticket_id=ticket, staff_username="dan", actor=SAM)
    with pytest.raises(StaffNotFound):
        desk.assign_ticket(db, ticket_id=ticket, staff_username="ghost", actor=SAM)
    with pytest.raises(TicketNotFound):
        desk.assign_ticket(db, ticket_id=2**40, staff_username="sam", actor=SAM)
    assert ticket_thread(db, ticket_id=ticket).ticket.assigned_to == "sam"
    # The customer's own list reads the same summaries.
    assert customer_tickets(db, account_id=make_customer(db, "bob").id) == []
    desk.assign_ticket(db, ticket_id=ticket, staff_username=None, actor=SAM)
    assert audit_rows(db, "ticket_assigned")[-1]["after"] == {"assigned_to": None}


def test_an_answer_names_the_staff_member_only(db: Database) -> None:
    ticket = open_ticket(db, account_id=make_customer(db).id, subject_kind="other", message="hi")
    reply_as_owner(db, ticket_id=ticket, message="from the shell", actor=Actor("cli", "root"))
    reply_as_owner(db, ticket_id=ticket, message="from /admin", actor=SAM)
    names = [m.staff_name for m in ticket_thread(db, ticket_id=ticket).messages]
    assert names == [None, None, "sam"]


def test_canned_answers_bounds(db: Database) -> None:
    first = desk.save_canned_answer(db, title="  Hello   there ", body=" Hi. ", actor=SAM)
    assert desk.canned_answer(db, answer_id=first) == desk.Canned(first, "Hello there", "Hi.")
    assert desk.save_canned_answer(db, title="Hello there", body="Hey.", actor=SAM) == first
    for title, body, message in (
        ("", "x", "needs a title"),
        ("t" * 101, "x", "at most 100 characters"),
        ("ok", "   ", "the message is empty"),
        ("ok", "x" * 5001, "at most 5000 characters"),
    ):
        with pytest.raises(InvalidTicketInput, match=message):
            desk.save_canned_answer(db, title=title, body=body, actor=SAM)
    assert desk.canned_answer(db, answer_id=0) is None
    assert desk.delete_canned_answer(db, answer_id=first + 1, actor=SAM) is False
    assert desk.delete_canned_answer(db, answer_id=first, actor=SAM) is True
    assert desk.canned_answers(db) == []


def test_a_panel_keeps_a_bounded_list_of_canned_answers(db: Database) -> None:
    for n in range(MAX_CANNED):
        desk.save_canned_answer(db, title=f"a{n:03}", body="x", actor=Actor.system())
    with pytest.raises(InvalidTicketInput, match=f"at most {MAX_CANNED} canned answers"):
        desk.save_canned_answer(db, title="one more", body="x", actor=Actor.system())
    desk.save_canned_answer(
        db, title="a000", body="changed", actor=Actor.system()
    )  # a change is fine
    assert len(desk.canned_answers(db)) == MAX_CANNED


def test_unknown_filter_values_match_nothing(db: Database) -> None:
    open_ticket(db, account_id=make_customer(db).id, subject_kind="other", message="hi")
    assert inbox(db, InboxFilter(status="pending")).rows == []
    assert inbox(db, InboxFilter(subject="spam")).rows == []
    assert len(inbox(db, InboxFilter(customer="alice")).rows) == 1
    assert inbox(db, InboxFilter(customer="bob")).rows == []
    assert inbox(db, InboxFilter(assigned="me", staff_id=None)).rows == []
