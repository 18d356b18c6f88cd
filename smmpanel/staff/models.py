"""Staff members: the people who run the panel from /admin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow

STAFF_ACTIVE = "active"
STAFF_DISABLED = "disabled"


class StaffMember(Base):
    """A web admin login.  Never a customer: a staff member has no balance, no
    API key and no orders, and a customer's session opens no admin page."""

    __tablename__ = "staff"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'manager', 'support')", name="staff_role_known"),
        CheckConstraint("status IN ('active', 'disabled')", name="staff_status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=STAFF_ACTIVE)
    # argon2 (pwdlib), like customers' web passwords.
    password_hash: Mapped[str] = mapped_column(String(255))
    # Bumped by a password reset, a role change or disabling: admin sessions
    # carry the epoch they logged in at, and an older one is logged out.
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # TOTP, encrypted with SMMPANEL_SECRET_KEY (smmpanel.secretbox): the enabled
    # secret, one being set up, and the last time step accepted (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_pending: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
