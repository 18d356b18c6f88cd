"""Support tickets: the domain commands and the owner's `smmpanel tickets`."""

from __future__ import annotations

import pytest

from smmpanel.db import Database
from smmpanel.orders.service import place_order
from smmpanel.support.errors import InvalidTicketInput, TicketNotFound
from smmpanel.support.models import MAX_MESSAGE
from smmpanel.support.queries import customer_tickets, list_tickets, ticket_thread, unread_answers
from smmpanel.support.service import (
    close_ticket,
    mark_read,
    open_ticket,
    parse_order_ids,
    reply_as_customer,
    reply_as_owner,
)
from tests.factories import make_customer, make_service


def _order(db: Database, account_id: int, service_id: int, link: str) -> int:
    params = {"link": link, "quantity": "100"}
    return place_order(db, account_id=account_id, service_id=service_id, params=params).order_id


def test_thread_unread_marks_and_reopening(db: Database) -> None:
    alice = make_customer(db, "alice")
    service = make_service(db)
    order = _order(db, alice.id, service, "https://example.com/a")
    ticket = open_ticket(
        db, account_id=alice.id, subject_kind="refill", message=" It dropped ", order_ids=[order]
    )
    [summary] = customer_tickets(db, account_id=alice.id)
    assert (summary.status, summary.order_ids, summary.unread_by_customer) == (
        "open",
        (order,),
        False,
    )
    assert [t.id for t in list_tickets(db, status="open")] == [ticket]

    reply_as_owner(db, ticket_id=ticket, message="Refilled.")
    assert unread_answers(db, account_id=alice.id) == 1
    assert list_tickets(db, status="open") == []
    mark_read(db, account_id=alice.id, ticket_id=ticket)
    assert unread_answers(db, account_id=alice.id) == 0

    close_ticket(db, ticket_id=ticket)
    reply_as_customer(db, account_id=alice.id, ticket_id=ticket, message="Dropped again")
    thread = ticket_thread(db, ticket_id=ticket, account_id=alice.id)
    assert thread.ticket.status == "open"  # a customer's reply reopens a closed ticket
    assert [(m.author, m.body) for m in thread.messages] == [
        ("customer", "It dropped"),
        ("owner", "Refilled."),
        ("customer", "Dropped again"),
    ]


def test_another_customers_ticket_and_orders_are_not_found(db: Database) -> None:
    alice, bob = make_customer(db, "alice"), make_customer(db, "bob")
    service = make_service(db)
    bobs_order = _order(db, bob.id, service, "https://example.com/b")
    with pytest.raises(InvalidTicketInput, match=f"no such order of yours: {bobs_order}"):
        open_ticket(
            db, account_id=alice.id, subject_kind="order", message="x", order_ids=[bobs_order]
        )
    ticket = open_ticket(db, account_id=bob.id, subject_kind="other", message="hi")
    with pytest.raises(TicketNotFound):
        ticket_thread(db, ticket_id=ticket, account_id=alice.id)
    with pytest.raises(TicketNotFound):
        reply_as_customer(db, account_id=alice.id, ticket_id=ticket, message="mine now")
    with pytest.raises(TicketNotFound):
        mark_read(db, account_id=alice.id, ticket_id=ticket)


@pytest.mark.parametrize(
    ("subject", "message", "error"),
    [
        ("nope", "x", "the subject is one of"),
        ("order", "   ", "the message is empty"),
        ("order", "x" * (MAX_MESSAGE + 1), "at most 5000 characters"),
    ],
)
def test_bad_ticket_input(db: Database, subject: str, message: str, error: str) -> None:
    alice = make_customer(db, "alice")
    with pytest.raises(InvalidTicketInput, match=error):
        open_ticket(db, account_id=alice.id, subject_kind=subject, message=message)


def test_parse_order_ids() -> None:
    assert parse_order_ids(" 12, 15 12;7 ") == [12, 15, 7]
    assert parse_order_ids("") == []
    for bad in ("12a", "-1", "0", "99999999999", "١٢"):
        with pytest.raises(InvalidTicketInput):
            parse_order_ids(bad)
    with pytest.raises(InvalidTicketInput, match="at most 20"):
        parse_order_ids(" ".join(str(i) for i in range(1, 22)))
