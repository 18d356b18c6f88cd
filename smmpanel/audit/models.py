"""The audit table, the kinds of change it records, and who made them."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

MAX_ACTOR = 100
MAX_SUBJECT = 100


class AuditAction(StrEnum):
    """Every state change a person or a script makes (the admin command line
    today; the web admin and the API later)."""

    ACCOUNT_CREATED = "account_created"
    ACCOUNT_FUNDED = "account_funded"
    ACCOUNT_CHANGED = "account_changed"  # e-mail, extended fields
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_UNSUSPENDED = "account_unsuspended"
    RATE_SET = "rate_set"  # an account's own price for a service
    RATE_LIMIT_SET = "rate_limit_set"
    KEY_ROTATED = "key_rotated"
    WEBHOOK_SET = "webhook_set"
    WEBHOOK_REMOVED = "webhook_removed"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated"
    CURRENCY_RATE_SET = "currency_rate_set"
    BASE_CURRENCY_SET = "base_currency_set"
    SETTING_CHANGED = "setting_changed"
    SITE_TEXT_CHANGED = "site_text_changed"  # the terms or the home page's text
    LOGO_CHANGED = "logo_changed"
    SERVICE_CREATED = "service_created"
    SERVICE_CHANGED = "service_changed"
    SERVICE_MAPPED = "service_mapped"
    SERVICE_UNMAPPED = "service_unmapped"
    CATEGORY_CREATED = "category_created"
    CATEGORY_CHANGED = "category_changed"
    PROVIDER_ADDED = "provider_added"
    PROVIDER_PAUSED = "provider_paused"
    PROVIDER_RESUMED = "provider_resumed"
    ORDER_RESOLVED_BY_HAND = "order_resolved_by_hand"
    ORDER_ADOPTED_BY_HAND = "order_adopted_by_hand"
    ORDER_CANCELED_BY_HAND = "order_canceled_by_hand"
    ORDER_RESENT = "order_resent"
    POST_RECORDED = "post_recorded"
    REFILL_RESOLVED_BY_HAND = "refill_resolved_by_hand"
    CANCEL_RESOLVED_BY_HAND = "cancel_resolved_by_hand"
    ALERT_RESOLVED = "alert_resolved"
    SECRETS_REENCRYPTED = "secrets_reencrypted"
    TICKET_REPLIED = "ticket_replied"  # the owner's answer to a support ticket
    TICKET_CLOSED = "ticket_closed"
    TWO_FACTOR_TURNED_OFF = "two_factor_turned_off"  # by the owner, for a lost device
    STAFF_ADDED = "staff_added"
    STAFF_ROLE_CHANGED = "staff_role_changed"
    STAFF_DISABLED = "staff_disabled"
    STAFF_ENABLED = "staff_enabled"
    STAFF_PASSWORD_RESET = "staff_password_reset"
    STAFF_TWO_FACTOR_ON = "staff_two_factor_on"
    STAFF_TWO_FACTOR_OFF = "staff_two_factor_off"
    STAFF_LOGGED_IN = "staff_logged_in"
    GATEWAY_CONFIGURED = "gateway_configured"  # a payment gateway's settings
    GATEWAY_ENABLED = "gateway_enabled"
    GATEWAY_DISABLED = "gateway_disabled"
    DEPOSIT_APPROVED = "deposit_approved"  # credited by the owner (a transfer, a held one)
    DEPOSIT_REJECTED = "deposit_rejected"
    DEPOSIT_CHECKED = "deposit_checked"  # the owner asked the gateway again


@dataclass(frozen=True)
class Actor:
    """Who made a change: a kind (cli, api, web, worker, system) and a name
    (the OS user, the account, the web user; empty for worker and system)."""

    kind: str
    name: str = ""

    def __str__(self) -> str:
        text = f"{self.kind}:{self.name}" if self.name else self.kind
        return text[:MAX_ACTOR]

    @classmethod
    def system(cls) -> Actor:
        """Code that acts on nobody's request: tests, imports at start-up."""
        return cls("system")

    @classmethod
    def staff(cls, username: str) -> Actor:
        """A staff member in the web admin."""
        return cls("staff", username)

    @classmethod
    def worker(cls) -> Actor:
        return cls("worker")

    @classmethod
    def cli(cls) -> Actor:
        """The admin command line, named by the OS user who runs it."""
        return cls("cli", _os_user())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


class AuditEntry(Base):
    """One change: append-only, written in the transaction of the change."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(MAX_ACTOR))
    action: Mapped[str] = mapped_column(String(40))
    # What changed, as "kind:id" (account:5, service:12, setting:default_refill_days).
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), index=True)
    # JSON: {"before": {...}, "after": {...}}, the values that matter; never a secret.
    details: Mapped[str] = mapped_column(Text, default="{}")
