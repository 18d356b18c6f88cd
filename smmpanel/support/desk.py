"""The staff's side of the ticket desk: who looks after a ticket, and the
canned answers (ready replies) they insert into an answer.

Answers themselves go through `service.reply_as_owner`, which keeps the
answering staff member's name on the message."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.staff.models import STAFF_ACTIVE, StaffMember
from smmpanel.staff.service import staff_by_name
from smmpanel.support.errors import InvalidTicketInput, TicketNotFound
from smmpanel.support.models import (
    MAX_CANNED,
    MAX_CANNED_TITLE,
    CannedAnswer,
    SupportTicket,
)
from smmpanel.support.service import clean_message
from smmpanel.timeutil import utcnow

MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Canned:
    id: int
    title: str
    body: str


def assign_ticket(
    db: Database, *, ticket_id: int, staff_username: str | None, actor: Actor
) -> None:
    """Give the ticket to an active staff member (None or "": to nobody)."""
    with db.write() as session:
        ticket = session.get(SupportTicket, ticket_id) if 0 < ticket_id <= MAX_ID else None
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        member = staff_by_name(session, staff_username) if staff_username else None
        if member is not None and member.status != STAFF_ACTIVE:
            raise InvalidTicketInput(f"{member.username} is disabled: assign someone active")
        held = session.get(StaffMember, ticket.assigned_staff_id or 0)
        before = held.username if held is not None else None
        after = member.username if member is not None else None
        if before == after:
            return
        ticket.assigned_staff_id = member.id if member is not None else None
        record_audit(
            session,
            actor=actor,
            action=AuditAction.TICKET_ASSIGNED,
            subject=subject("ticket", ticket.id),
            before={"assigned_to": before},
            after={"assigned_to": after},
        )


def canned_answers(db: Database) -> list[Canned]:
    """Every canned answer, by title."""
    with db.read() as session:
        rows = session.scalars(select(CannedAnswer).order_by(CannedAnswer.title).limit(MAX_CANNED))
        return [Canned(id=r.id, title=r.title, body=r.body) for r in rows]


def canned_answer(db: Database, *, answer_id: int) -> Canned | None:
    with db.read() as session:
        row = session.get(CannedAnswer, answer_id) if 0 < answer_id <= MAX_ID else None
        return None if row is None else Canned(id=row.id, title=row.title, body=row.body)


def save_canned_answer(db: Database, *, title: str, body: str, actor: Actor) -> int:
    """Add a canned answer, or change the text of the one with this title;
    returns its id."""
    name = " ".join((title or "").split())
    if not name:
        raise InvalidTicketInput("a canned answer needs a title")
    if len(name) > MAX_CANNED_TITLE:
        raise InvalidTicketInput(f"a title is at most {MAX_CANNED_TITLE} characters")
    text = clean_message(body)
    with db.write() as session:
        row = session.scalar(select(CannedAnswer).where(CannedAnswer.title == name))
        if row is None:
            count = session.scalar(select(func.count(CannedAnswer.id))) or 0
            if count >= MAX_CANNED:
                raise InvalidTicketInput(f"a panel keeps at most {MAX_CANNED} canned answers")
            row = CannedAnswer(title=name, body=text, updated_at=utcnow())
            session.add(row)
            session.flush()
            before = None
        else:
            before = {"characters": len(row.body)}
            row.body, row.updated_at = text, utcnow()
        record_audit(
            session,
            actor=actor,
            action=AuditAction.CANNED_ANSWER_SAVED,
            subject=subject("canned_answer", row.id),
            before=before,
            after={"title": name, "characters": len(text)},
        )
        return row.id


def delete_canned_answer(db: Database, *, answer_id: int, actor: Actor) -> bool:
    """Remove a canned answer; False when there was none."""
    with db.write() as session:
        row = session.get(CannedAnswer, answer_id) if 0 < answer_id <= MAX_ID else None
        if row is None:
            return False
        record_audit(
            session,
            actor=actor,
            action=AuditAction.CANNED_ANSWER_DELETED,
            subject=subject("canned_answer", row.id),
            before={"title": row.title},
        )
        session.delete(row)
        return True
