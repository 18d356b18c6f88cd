"""`smmpanel tickets`: the owner lists, reads, answers and closes tickets."""

from __future__ import annotations

import json

from sqlalchemy import select

from smmpanel.audit.models import AuditEntry
from smmpanel.db import Database
from smmpanel.support.queries import ticket_thread
from smmpanel.support.service import open_ticket
from tests.cli.conftest import Run
from tests.factories import make_customer


def test_tickets_cli(db: Database, run: Run) -> None:
    alice = make_customer(db, "alice")
    make_customer(db, "bob")
    ticket = open_ticket(db, account_id=alice.id, subject_kind="payment", message="How to pay?")
    listed = json.loads(run("tickets", "list", "--status", "open", "--json").stdout)
    assert [(t["id"], t["user"], t["subject"]) for t in listed] == [(ticket, "alice", "payment")]
    assert json.loads(run("tickets", "list", "--user", "bob", "--json").stdout) == []
    assert "How to pay?" in run("tickets", "show", str(ticket)).stdout

    run("tickets", "reply", str(ticket), "Open a ticket with the amount.")
    run("tickets", "reply", str(ticket), input="From stdin\n")
    shown = json.loads(run("tickets", "show", str(ticket), "--json").stdout)
    assert shown["status"] == "answered" and shown["unread_by_customer"] is True
    assert [m["text"] for m in shown["messages"]][1:] == [
        "Open a ticket with the amount.",
        "From stdin",
    ]
    run("tickets", "close", str(ticket))
    assert ticket_thread(db, ticket_id=ticket).ticket.status == "closed"
    with db.read() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-3:] == ["ticket_replied", "ticket_replied", "ticket_closed"]

    run("tickets", "list", "--status", "nope", code=2)
    run("tickets", "reply", str(ticket), "   ", code=2)
    run("tickets", "show", "999", ok=False)
    run("tickets", "show", "abc", code=2)
    run("tickets", "reply", "999", "x", ok=False)
    run("tickets", "list", "--user", "nobody", ok=False)
