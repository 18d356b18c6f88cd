"""The append-only money ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

TOPUP = "topup"
CHARGE = "charge"
REFUND = "refund"
ADJUSTMENT = "adjustment"
ENTRY_KINDS = (TOPUP, CHARGE, REFUND, ADJUSTMENT)


class LedgerEntry(Base):
    """One balance change.  Never updated, never deleted: a mistake is corrected
    by another entry.  ``cause`` is the entry's idempotency key: a refund of an
    order has cause ``refund:order:<id>``, unique, so it can be written once
    (every cause is built in ledger/causes.py)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('topup', 'charge', 'refund', 'adjustment')", name="entry_kind"),
        CheckConstraint("balance_after >= 0", name="entry_balance_not_negative"),
        CheckConstraint("amount <> 0", name="entry_not_zero"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Signed minor units of the account's currency: positive credits, negative debits.
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    cause: Mapped[str | None] = mapped_column(String(96), unique=True, nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    refill_id: Mapped[int | None] = mapped_column(ForeignKey("refills.id"), nullable=True)
    cancel_id: Mapped[int | None] = mapped_column(ForeignKey("cancels.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
