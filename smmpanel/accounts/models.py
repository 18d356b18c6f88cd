"""Accounts, API keys, currencies and panel settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

ACTIVE = "active"
SUSPENDED = "suspended"
ACCOUNT_STATUSES = (ACTIVE, SUSPENDED)


class Currency(Base):
    __tablename__ = "currencies"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    # Units of this currency per 1 unit of the base currency, as an exact decimal string.
    rate: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("status IN ('active', 'suspended')", name="account_status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code"))
    # Cached sum of the account's ledger entries, in minor units of `currency`.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    extended_fields: Mapped[bool] = mapped_column(Boolean, default=False)
    # Order status changes are POSTed here, signed with HMAC-SHA256 of `webhook_secret`
    # (stored encrypted, smmpanel.secretbox).
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The API rate limit of this account's keys: NULL = the panel's default,
    # "off", or "N/second" ("N/minute", "N/hour"); see accounts/rate_limit.py.
    rate_limit: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # SHA-256 of the key: keys are 256-bit random, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # First characters, so the owner can tell keys apart without seeing them.
    prefix: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
