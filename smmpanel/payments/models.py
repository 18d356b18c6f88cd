"""Tables of the payments context: the gateways' setup, deposits and their history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

# deposits.state's values (states.DepositState; repeated here for the CHECK).
STATES = ("created", "pending", "paid", "held", "failed", "expired", "rejected", "reversed")
# A gateway's raw payload kept with an event, at most (characters): enough for
# any webhook body, bounded so a hostile one cannot fill the disk.
MAX_PAYLOAD = 64 * 1024


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class PaymentGateway(Base):
    """The owner's setup of one installed gateway (`smmpanel gateways set`).
    `settings` is a JSON object of setting name -> value, secret values sealed
    with smmpanel.secretbox (like provider keys)."""

    __tablename__ = "payment_gateways"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Deposit(Base):
    """Money a customer sends through a gateway to fund their balance.

    `amount` is in minor units (5 places) of the gateway's `currency`;
    `credit_amount` and `bonus_amount` are what it credits, in minor units of
    the account's currency, fixed when the deposit is made (the rate of that
    moment).  `paid_amount`/`paid_currency` are what the gateway reported;
    `owed_amount` what a reversal could not take back from the balance."""

    __tablename__ = "deposits"
    __table_args__ = (
        CheckConstraint(f"state IN ({_in(STATES)})", name="deposit_state_known"),
        CheckConstraint("amount > 0", name="deposit_amount_positive"),
        CheckConstraint("credit_amount > 0", name="deposit_credit_positive"),
        CheckConstraint("bonus_amount >= 0", name="deposit_bonus_not_negative"),
        CheckConstraint("owed_amount >= 0", name="deposit_owed_not_negative"),
        CheckConstraint("paid_amount >= 0", name="deposit_paid_not_negative"),
        UniqueConstraint("gateway", "external_id", name="uq_deposits_gateway_external_id"),
        # The reconciliation job: deposits left in a state since a time.
        Index("ix_deposits_state_updated", "state", "updated_at"),
        # A customer's deposits, newest first, keyset-paged.
        Index("ix_deposits_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    gateway: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    credit_amount: Mapped[int] = mapped_column(BigInteger)
    account_currency: Mapped[str] = mapped_column(String(8))
    bonus_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    # The gateway's id of the payment (a Checkout Session, an invoice), once known.
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Short and human: "D-000042", for bank transfers and statements.
    reference: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="created")
    redirect_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    instructions: Mapped[str | None] = mapped_column(Text, nullable=True)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    paid_currency: Mapped[str | None] = mapped_column(String(8), nullable=True)
    owed_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DepositEvent(Base):
    """One change of a deposit, or one event that changed nothing (a duplicate
    webhook, an out-of-order one): append-only, written in the transaction of
    the change, with the gateway's raw payload for audit."""

    __tablename__ = "deposit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deposit_id: Mapped[int] = mapped_column(ForeignKey("deposits.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    # create, start, webhook, check, approve, reject, expire, fail
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    gateway_event_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    payload: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
