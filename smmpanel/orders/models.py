"""Orders, their status history, refills, cancels and idempotency records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

PENDING = "Pending"
IN_PROGRESS = "In progress"
PROCESSING = "Processing"
COMPLETED = "Completed"
PARTIAL = "Partial"
CANCELED = "Canceled"
ORDER_STATUSES = (PENDING, IN_PROGRESS, PROCESSING, COMPLETED, PARTIAL, CANCELED)
ACTIVE_STATUSES = (PENDING, IN_PROGRESS, PROCESSING)
FINAL_STATUSES = (COMPLETED, PARTIAL, CANCELED)


class OrderKind(StrEnum):
    """What an order is (``Order.kind``)."""

    ORDER = "order"
    DRIPFEED = "dripfeed"
    SUBSCRIPTION = "subscription"


KIND_ORDER = OrderKind.ORDER
KIND_DRIPFEED = OrderKind.DRIPFEED
KIND_SUBSCRIPTION = OrderKind.SUBSCRIPTION


class ForwardState(StrEnum):
    """Where an order stands with its upstream provider (``Order.forward_state``;
    NULL: fulfilled by hand).  Refills and cancels use queued, accepted and
    rejected.  Moves: ``orders/forwarding_states.py``."""

    QUEUED = "queued"  # a forward_order job will send it
    SENDING = "sending"  # a worker is calling the upstream `add`; outcome unknown until recorded
    ACCEPTED = "accepted"  # the upstream order id is known
    RECONCILE = "reconcile"  # the outcome of `add` is unknown: look it up before anything else
    REJECTED = "rejected"  # every provider refused it: canceled and refunded
    FAILED = "failed"  # its forward job gave up on an error: the owner resends or cancels it
    PARENT = "parent"  # a drip-feed parent: its runs are forwarded, not itself


REQUEST_PENDING = "Pending"
REQUEST_IN_PROGRESS = "In progress"
REQUEST_COMPLETED = "Completed"
REQUEST_REJECTED = "Rejected"
REQUEST_ERROR = "Error"
REFILL_STATUSES = (
    REQUEST_PENDING,
    REQUEST_IN_PROGRESS,
    REQUEST_COMPLETED,
    REQUEST_REJECTED,
    REQUEST_ERROR,
)
REFILL_OPEN = (REQUEST_PENDING, REQUEST_IN_PROGRESS)
CANCEL_STATUSES = (REQUEST_PENDING, REQUEST_COMPLETED, REQUEST_REJECTED)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(ORDER_STATUSES)})", name="order_status_known"),
        CheckConstraint("charge >= 0 AND remains >= 0", name="order_amounts"),
        CheckConstraint("refunded >= 0 AND refunded <= charge", name="order_refunded"),
        CheckConstraint(
            f"forward_state IS NULL OR forward_state IN ({_in(tuple(ForwardState))})",
            name="order_forward_state_known",
        ),
        # The customer's lists, newest first by id (keyset pages; migration 0013).
        Index("ix_orders_account_status_id", "account_id", "status", "id"),
        Index("ix_orders_account_id_id", "account_id", "id"),
        # The admin's list of every order: a status alone, a date range, an
        # upstream order id searched (migration 0016).
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_created_at", "created_at"),
        Index("ix_orders_provider_order_id", "provider_order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_ORDER)
    link: Mapped[str] = mapped_column(Text, default="")
    # Units per run (drip-feed) or the whole order; `total_quantity` = quantity x runs.
    quantity: Mapped[int] = mapped_column(BigInteger)
    runs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    interval: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total_quantity: Mapped[int] = mapped_column(BigInteger)
    # The price per 1000 charged, and the charge, in the account's currency.
    rate: Mapped[int] = mapped_column(BigInteger)
    charge: Mapped[int] = mapped_column(BigInteger)
    # What was given back of `charge` (refunds and settlements), written in the
    # transaction of each refund entry: charge - refunded is what the order
    # costs the account now, and `status` reads it without a ledger query.
    refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    # A package is priced whole (charge = rate); partial refunds are then proportional.
    package: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    start_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    remains: Mapped[int] = mapped_column(BigInteger)
    # The type-specific parameters (comments, usernames, answer_number, ...).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # While the order is active and the duplicate-link rule applies:
    # "<service_id>:<link>" (duplicate_link_scope panel) or
    # "a<account_id>:<service_id>:<link>" (account); NULL otherwise.  Its unique
    # index makes the rule race-free.
    active_link: Mapped[str | None] = mapped_column(Text, unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    # --- fulfilment by an upstream provider (NULL for manual services) ---
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id"), nullable=True, index=True
    )
    provider_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A ForwardState, moved only by orders/forwarding_states.move_forward_state;
    # see providers/forwarding.py for what each step does.
    forward_state: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    forward_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Providers that refused this order for reasons of their own; the next is tried.
    forward_skip: Mapped[list[int]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    # Since when a queued order has waited because no provider could take it
    # (paused or unreachable); NULL while it does not wait.
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Why it waits, or why its forwarding failed (for the owner's lists).
    forward_error: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # --- drip-feed runs and subscription posts are child orders of their parent ---
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id"), nullable=True, index=True
    )
    run_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OrderEvent(Base):
    """Every status change of an order, and every move of its forwarding state,
    with its time and actor.  A forwarding move has `to_forward` set (and the
    unchanged status in from/to_status); the status history and the webhook
    event numbers count only the rows where it is NULL."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    start_count: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    remains: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    from_forward: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_forward: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Refill(Base):
    __tablename__ = "refills"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(REFILL_STATUSES)})", name="refill_status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=REQUEST_PENDING)
    # Set to the order id while the request is open: one open refill per order.
    open_order_id: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # For provider-backed orders: the upstream's id of this request, once forwarded.
    provider_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    forward_state: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Cancel(Base):
    __tablename__ = "cancels"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(CANCEL_STATUSES)})", name="cancel_status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=REQUEST_PENDING)
    # Set to the order id while the request is pending: one pending cancel per order.
    open_order_id: Mapped[int | None] = mapped_column(Integer, unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # For provider-backed orders: the upstream's id of this request, once forwarded.
    provider_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    forward_state: Mapped[str | None] = mapped_column(String(16), nullable=True)


class IdempotencyKey(Base):
    """The stored answer to an `add` carrying a request_id (Stripe-style)."""

    __tablename__ = "idempotency_keys"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Written first (NULL), so that a concurrent twin waits on this row's key.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
