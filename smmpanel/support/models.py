"""Support tickets and their messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

# What a ticket is about, in the order the form lists them ("api": API / extra fields).
SUBJECTS = ("order", "payment", "refill", "cancel", "api", "other")
OPEN = "open"  # waiting for the owner's answer
ANSWERED = "answered"  # the owner answered last
CLOSED = "closed"
STATUSES = (OPEN, ANSWERED, CLOSED)
CUSTOMER = "customer"
OWNER = "owner"
AUTHORS = (CUSTOMER, OWNER)
MAX_MESSAGE = 5000
MAX_ORDER_IDS = 20
MAX_CANNED_TITLE = 100
MAX_CANNED = 200  # canned answers a panel keeps: a short list to pick from


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class SupportTicket(Base):
    __tablename__ = "support_tickets"
    __table_args__ = (
        CheckConstraint(f"subject IN ({_in(SUBJECTS)})", name="ticket_subject_known"),
        CheckConstraint(f"status IN ({_in(STATUSES)})", name="ticket_status_known"),
        Index("ix_support_tickets_account_updated", "account_id", "updated_at"),
        Index("ix_support_tickets_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    subject: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    # The customer's own orders the ticket is about, "12,15" (checked when opened).
    order_ids: Mapped[str] = mapped_column(String(255), default="")
    # An owner's answer the customer has not opened yet.
    unread_by_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    # The staff member who looks after it (None: nobody yet).
    assigned_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id"), nullable=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SupportMessage(Base):
    __tablename__ = "support_messages"
    __table_args__ = (CheckConstraint(f"author IN ({_in(AUTHORS)})", name="message_author_known"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id"), index=True)
    author: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who answered from /admin (an owner's message; None: the command line or a script).
    # A name, not a link to the staff row: the thread keeps it if the member is removed.
    staff_name: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)


class CannedAnswer(Base):
    """A ready reply staff insert into a ticket's answer (title + text)."""

    __tablename__ = "canned_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(MAX_CANNED_TITLE), unique=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
