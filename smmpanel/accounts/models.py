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
    # The web login: an argon2 hash (pwdlib), NULL until a password is set.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Bumped by a password change or reset: web sessions carry the epoch they
    # logged in at, and one with an older epoch is logged out.
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The web pages' language ("en", "ru"); NULL: the browser's.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # TOTP two-factor logins (accounts/two_factor.py), secrets encrypted like
    # webhook secrets (smmpanel.secretbox): the enabled one, one being set up,
    # and the last time step a code was accepted for (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_pending: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
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


class PasswordReset(Base):
    """A one-time link to set an account's password: stored as the SHA-256 of its
    token, used at most once, refused after `expires_at`."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginFailure(Base):
    """One refused web login, counted per client IP and per username to throttle
    password guessing (rows older than the window are deleted as new ones come)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "ip:203.0.113.9" or "user:alice" (lower-cased).
    subject: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
