"""Upstream providers, their catalogs, and which of them back a local service."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

PROVIDER_ACTIVE = "active"
PROVIDER_PAUSED = "paused"


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    api_url: Mapped[str] = mapped_column(String(500))
    # Needed to call the upstream; never printed in full and never logged.
    # Stored encrypted (smmpanel.secretbox): "enc1:" and a Fernet token.
    api_key: Mapped[str] = mapped_column(String(1024))
    # post (form), json or get: panels differ.
    method: Mapped[str] = mapped_column(String(8), default="post")
    # Dialect profile: {"request_id": true} when the upstream honours request_id
    # (another smmpanel), {"lookup": true} when it answers action=orders lookups.
    dialect: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PROVIDER_ACTIVE)
    paused_reason: Mapped[str] = mapped_column(Text, default="")
    balance: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(8), nullable=True)
    balance_checked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UpstreamService(Base):
    """The last known catalog entry of an upstream service (for import and price sync)."""

    __tablename__ = "upstream_services"

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True)
    upstream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(255))
    # Price per 1000 in the provider's currency, minor units.
    rate: Mapped[int] = mapped_column(BigInteger)
    min_quantity: Mapped[int] = mapped_column(BigInteger)
    max_quantity: Mapped[int] = mapped_column(BigInteger)
    dripfeed: Mapped[bool] = mapped_column(Boolean, default=False)
    refill: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gone: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProviderOrderRecord(Base):
    """What an upstream call did for an order, for the audit trail and recovery."""

    __tablename__ = "provider_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    # From opening the provider's API to its answer or the failure (the health view).
    elapsed_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Indexed: /metrics reads the calls of the last minutes at every scrape.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
