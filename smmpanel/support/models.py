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
