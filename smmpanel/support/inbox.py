"""The staff's ticket inbox: filters and keyset pages (newest ticket first,
by id; never OFFSET, so a deep page costs what the first does)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.support.models import STATUSES, SUBJECTS, SupportTicket
from smmpanel.support.queries import TicketSummary, summaries_query, summary_of

PAGE_SIZE = 50
ASSIGNED = ("me", "anyone", "nobody")  # "anyone": assigned to some member


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows; None (or "") for a filter means every value."""

    status: str | None = None
    subject: str | None = None
    assigned: str | None = None  # one of ASSIGNED
    staff_id: int | None = None  # who "me" is
    customer: str | None = None  # a username


@dataclass(frozen=True)
class InboxPage:
    rows: list[TicketSummary]
    older: int | None  # pass as `before` for the next (older) page
    newer: int | None  # pass as `after` for the previous (newer) page


def inbox(
    db: Database,
    where: InboxFilter,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> InboxPage:
    """One page of tickets matching `where`: the newest first, or the page just
    newer than `after`.  Unknown filter values match nothing rather than everything."""
    query = summaries_query()
    if where.status:
        query = query.where(SupportTicket.status == where.status)
    if where.subject:
        query = query.where(SupportTicket.subject == where.subject)
    if where.assigned == "me":
        query = query.where(SupportTicket.assigned_staff_id == (where.staff_id or 0))
    elif where.assigned == "anyone":
        query = query.where(SupportTicket.assigned_staff_id.is_not(None))
    elif where.assigned == "nobody":
        query = query.where(SupportTicket.assigned_staff_id.is_(None))
    if where.customer:
        query = query.where(Account.username == where.customer)
    if where.status not in (None, "", *STATUSES) or where.subject not in (None, "", *SUBJECTS):
        query = query.where(SupportTicket.id < 0)
    if after is not None:
        query = query.where(SupportTicket.id > after).order_by(SupportTicket.id)
    else:
        if before is not None:
            query = query.where(SupportTicket.id < before)
        query = query.order_by(SupportTicket.id.desc())
    with db.read() as session:
        rows = [summary_of(*row) for row in session.execute(query.limit(size + 1))]
    more = len(rows) > size
    rows = rows[:size]
    if not rows:
        return InboxPage([], None, None)
    if after is not None:
        # Read upwards from `after`: older ones exist (the page we came from).
        rows.reverse()
        return InboxPage(rows, rows[-1].id, rows[0].id if more else None)
    return InboxPage(rows, rows[-1].id if more else None, rows[0].id if before else None)


def waiting_count(db: Database) -> int:
    """Tickets waiting for an answer (for the inbox's heading)."""
    with db.read() as session:
        count = session.scalar(
            select(func.count(SupportTicket.id)).where(SupportTicket.status == "open")
        )
        return count or 0
