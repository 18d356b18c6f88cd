"""Commands on support tickets: the customer opens and replies, the owner
answers and closes.

A customer's reply to a closed ticket reopens it (status `open`): the thread
goes on where it was rather than making the customer start over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.support.errors import InvalidTicketInput, TicketNotFound
from smmpanel.support.models import (
    ANSWERED,
    CLOSED,
    CUSTOMER,
    MAX_MESSAGE,
    MAX_ORDER_IDS,
    OPEN,
    OWNER,
    SUBJECTS,
    SupportMessage,
    SupportTicket,
)
from smmpanel.timeutil import utcnow

_ID_SEPARATORS = re.compile(r"[\s,;]+")
MAX_ORDER_ID = 2**31 - 1


def parse_order_ids(text: str) -> list[int]:
    """Order ids as a customer types them: "12, 15 17" -> [12, 15, 17] (no duplicates)."""
    ids: list[int] = []
    for part in _ID_SEPARATORS.split((text or "").strip()[:1000]):
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or not 0 < int(part) <= MAX_ORDER_ID:
            raise InvalidTicketInput(f"not an order id: {part[:20]}")
        if int(part) not in ids:
            ids.append(int(part))
    if len(ids) > MAX_ORDER_IDS:
        raise InvalidTicketInput(f"a ticket names at most {MAX_ORDER_IDS} orders")
    return ids


def clean_message(text: str) -> str:
    body = (text or "").strip()
    if not body:
        raise InvalidTicketInput("the message is empty")
    if len(body) > MAX_MESSAGE:
        raise InvalidTicketInput(f"a message is at most {MAX_MESSAGE} characters")
    return body


def open_ticket(
    db: Database,
    *,
    account_id: int,
    subject_kind: str,
    message: str,
    order_ids: Iterable[int] = (),
) -> int:
    """A new ticket with the customer's first message; returns its id.  Every
    order id must be one of the customer's own orders."""
    if subject_kind not in SUBJECTS:
        raise InvalidTicketInput(f"the subject is one of: {', '.join(SUBJECTS)}")
    body = clean_message(message)
    ids = list(dict.fromkeys(order_ids))
    if len(ids) > MAX_ORDER_IDS:
        raise InvalidTicketInput(f"a ticket names at most {MAX_ORDER_IDS} orders")
    with db.write() as session:
        _check_own_orders(session, account_id, ids)
        now = utcnow()
        ticket = SupportTicket(
            account_id=account_id,
            subject=subject_kind,
            status=OPEN,
            order_ids=",".join(str(i) for i in ids),
            unread_by_customer=False,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        session.flush()
        session.add(SupportMessage(ticket_id=ticket.id, author=CUSTOMER, body=body, created_at=now))
        return ticket.id


def _check_own_orders(session: Session, account_id: int, ids: list[int]) -> None:
    if not ids:
        return
    own = set(
        session.scalars(select(Order.id).where(Order.id.in_(ids), Order.account_id == account_id))
    )
    missing = [i for i in ids if i not in own]
    if missing:
        # Another customer's order is "not found", as the API answers it.
        raise InvalidTicketInput(f"no such order of yours: {missing[0]}")


def reply_as_customer(db: Database, *, account_id: int, ticket_id: int, message: str) -> None:
    """The customer's reply; a closed ticket is reopened by it."""
    body = clean_message(message)
    with db.write() as session:
        ticket = _customer_ticket(session, account_id, ticket_id)
        now = utcnow()
        session.add(SupportMessage(ticket_id=ticket.id, author=CUSTOMER, body=body, created_at=now))
        ticket.status = OPEN
        ticket.updated_at = now


def mark_read(db: Database, *, account_id: int, ticket_id: int) -> None:
    """The customer opened the ticket: its answers are no longer new."""
    with db.write() as session:
        ticket = _customer_ticket(session, account_id, ticket_id)
        if ticket.unread_by_customer:
            ticket.unread_by_customer = False


def reply_as_owner(
    db: Database, *, ticket_id: int, message: str, actor: Actor = Actor.system()
) -> None:
    """The owner's answer: the customer sees it marked new until they open it.
    Answering a closed ticket reopens it as answered."""
    body = clean_message(message)
    with db.write() as session:
        ticket = _ticket(session, ticket_id)
        now = utcnow()
        # A staff member's name is kept on the message: the thread shows who answered.
        name = actor.name[:64] if actor.kind == "staff" else None
        session.add(
            SupportMessage(
                ticket_id=ticket.id, author=OWNER, body=body, created_at=now, staff_name=name
            )
        )
        before = ticket.status
        ticket.status = ANSWERED
        ticket.unread_by_customer = True
        ticket.updated_at = now
        record_audit(
            session,
            actor=actor,
            action=AuditAction.TICKET_REPLIED,
            subject=subject("ticket", ticket.id),
            before={"status": before},
            after={"status": ANSWERED, "characters": len(body)},
        )


def close_ticket(db: Database, *, ticket_id: int, actor: Actor = Actor.system()) -> None:
    with db.write() as session:
        ticket = _ticket(session, ticket_id)
        if ticket.status == CLOSED:
            return
        before = ticket.status
        ticket.status = CLOSED
        ticket.updated_at = utcnow()
        record_audit(
            session,
            actor=actor,
            action=AuditAction.TICKET_CLOSED,
            subject=subject("ticket", ticket.id),
            before={"status": before},
            after={"status": CLOSED},
        )


def _ticket(session: Session, ticket_id: int) -> SupportTicket:
    ticket = session.get(SupportTicket, ticket_id) if 0 < ticket_id <= MAX_ORDER_ID else None
    if ticket is None:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket


def _customer_ticket(session: Session, account_id: int, ticket_id: int) -> SupportTicket:
    ticket = _ticket(session, ticket_id)
    if ticket.account_id != account_id:
        raise TicketNotFound(f"no ticket {ticket_id}")
    return ticket
