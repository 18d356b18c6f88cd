"""Reads over support tickets, for the customer's pages and the owner's CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.staff.models import StaffMember
from smmpanel.support.errors import InvalidTicketInput, TicketNotFound
from smmpanel.support.models import STATUSES, SupportMessage, SupportTicket


@dataclass(frozen=True)
class TicketSummary:
    id: int
    account_id: int
    username: str
    subject: str
    status: str
    order_ids: tuple[int, ...]
    unread_by_customer: bool
    created_at: datetime
    updated_at: datetime
    assigned_to: str | None = None  # the staff member looking after it


@dataclass(frozen=True)
class TicketMessage:
    author: str
    body: str
    created_at: datetime
    staff_name: str | None = None  # who answered from /admin


@dataclass(frozen=True)
class TicketThread:
    ticket: TicketSummary
    messages: tuple[TicketMessage, ...]


def summaries_query() -> Select[SupportTicket, str, str | None]:
    return (
        select(SupportTicket, Account.username, StaffMember.username)
        .join(Account, Account.id == SupportTicket.account_id)
        .outerjoin(StaffMember, StaffMember.id == SupportTicket.assigned_staff_id)
    )


def summary_of(ticket: SupportTicket, username: str, staff: str | None = None) -> TicketSummary:
    return TicketSummary(
        id=ticket.id,
        account_id=ticket.account_id,
        username=username,
        subject=ticket.subject,
        status=ticket.status,
        order_ids=tuple(int(i) for i in ticket.order_ids.split(",") if i),
        unread_by_customer=ticket.unread_by_customer,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        assigned_to=staff,
    )


def customer_tickets(db: Database, *, account_id: int, limit: int = 200) -> list[TicketSummary]:
    """The customer's tickets, the most recently active first."""
    query = (
        summaries_query()
        .where(SupportTicket.account_id == account_id)
        .order_by(SupportTicket.updated_at.desc(), SupportTicket.id.desc())
        .limit(limit)
    )
    with db.read() as session:
        return [summary_of(*row) for row in session.execute(query)]


def unread_answers(db: Database, *, account_id: int) -> int:
    """How many of the customer's tickets have an answer they have not opened."""
    query = select(func.count(SupportTicket.id)).where(
        SupportTicket.account_id == account_id, SupportTicket.unread_by_customer.is_(True)
    )
    with db.read() as session:
        return session.scalar(query) or 0


def list_tickets(
    db: Database, *, status: str | None = None, account_id: int | None = None, limit: int = 100
) -> list[TicketSummary]:
    """The owner's list: oldest waiting first is what an owner works through, so
    tickets awaiting an answer (`open`) come ordered by when they were last updated."""
    if status is not None and status not in STATUSES:
        raise InvalidTicketInput(f"the status is one of: {', '.join(STATUSES)}")
    query = summaries_query().order_by(SupportTicket.updated_at.desc(), SupportTicket.id.desc())
    if status is not None:
        query = query.where(SupportTicket.status == status)
    if account_id is not None:
        query = query.where(SupportTicket.account_id == account_id)
    with db.read() as session:
        return [summary_of(*row) for row in session.execute(query.limit(limit))]


def ticket_thread(db: Database, *, ticket_id: int, account_id: int | None = None) -> TicketThread:
    """The ticket and its messages, oldest first.  With `account_id`, only that
    customer's ticket: another's is TicketNotFound, as a missing one."""
    with db.read() as session:
        row = session.execute(summaries_query().where(SupportTicket.id == ticket_id)).first()
        if row is None or (account_id is not None and row[0].account_id != account_id):
            raise TicketNotFound(f"no ticket {ticket_id}")
        return TicketThread(ticket=summary_of(*row), messages=_messages(session, ticket_id))


def _messages(session: Session, ticket_id: int) -> tuple[TicketMessage, ...]:
    query = (
        select(SupportMessage)
        .where(SupportMessage.ticket_id == ticket_id)
        .order_by(SupportMessage.id)
    )
    return tuple(
        TicketMessage(
            author=m.author, body=m.body, created_at=m.created_at, staff_name=m.staff_name
        )
        for m in session.scalars(query)
    )
