"""Staff logins: password, then a TOTP code when the member has one on, with
the same throttle as customers' logins, and sessions checked against the
member's auth epoch on every request."""

from __future__ import annotations

from dataclasses import dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.passwords import (
    LoginRefused,
    Throttle,
    check_throttle,
    record_failure,
    verify_password,
)
from smmpanel.accounts.two_factor import (
    TwoFactorRefused,
    TwoFactorSetup,
    matching_step,
    totp_setup,
)
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.secretbox import reveal_secret, seal_secret
from smmpanel.staff.errors import StaffNotFound
from smmpanel.staff.models import STAFF_ACTIVE, StaffMember
from smmpanel.staff.service import staff_by_name
from smmpanel.timeutil import utcnow


@dataclass(frozen=True)
class StaffUser:
    """The staff member an admin session acts for."""

    id: int
    username: str
    role: str
    auth_epoch: int
    two_factor: bool

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.username)


def staff_subjects(ip: str, username: str) -> tuple[str, str]:
    """Refused logins count against the client IP (as customers' do) and the staff name."""
    return (f"ip:{ip}"[:128], f"staff:{username.strip().lower()}"[:128])


def log_in_staff(
    db: Database, *, username: str, password: str, ip: str, throttle: Throttle = Throttle()
) -> StaffUser:
    """The member whose password this is (a code may still be needed:
    `StaffUser.two_factor`); LoginThrottled after too many failures from the
    IP or for the name, LoginRefused for a wrong name, password or a disabled member."""
    name = (username or "").strip()
    subjects = staff_subjects(ip, name)
    with db.read() as session:
        check_throttle(session, subjects, throttle)
        member = session.scalar(select(StaffMember).where(StaffMember.username == name))
        stored = member.password_hash if member is not None else None
        user = _user(member) if member is not None else None
    valid = verify_password(password, stored)  # the same argon2 work for unknown names
    if not valid or member is None or user is None or member.status != STAFF_ACTIVE:
        record_failure(db, subjects)
        raise LoginRefused("wrong username or password")
    return user


def log_in_staff_code(
    db: Database,
    *,
    staff_id: int,
    auth_epoch: int,
    code: str,
    ip: str,
    throttle: Throttle = Throttle(),
) -> StaffUser:
    """The second step: the member once the code is right (a code works once)."""
    with db.read() as session:
        name = session.scalar(select(StaffMember.username).where(StaffMember.id == staff_id))
    if name is None:
        raise LoginRefused("log in again")
    subjects = staff_subjects(ip, name)
    with db.read() as session:
        check_throttle(session, subjects, throttle)
    with db.write() as session:
        member = _member(session, staff_id, lock=True)
        accepted = (
            member.status == STAFF_ACTIVE
            and member.auth_epoch == auth_epoch
            and member.totp_secret is not None
            and _use_code(member, code)
        )
        user = _user(member)
    if not accepted:
        record_failure(db, subjects)
        raise LoginRefused("the code is wrong or used already")
    return user


def record_staff_login(db: Database, *, staff_id: int, ip: str) -> None:
    """The login is complete: when, and an audit row (who logged in from where)."""
    with db.write() as session:
        member = _member(session, staff_id)
        member.last_login_at = utcnow()
        record_audit(
            session,
            actor=Actor.staff(member.username),
            action=AuditAction.STAFF_LOGGED_IN,
            subject=subject("staff", member.username),
            after={"ip": ip[:64]},
        )


def session_staff(db: Database, *, staff_id: int, auth_epoch: int) -> StaffUser | None:
    """The member of an admin session, or None when it is no longer valid
    (password reset, role changed, disabled, removed)."""
    with db.read() as session:
        member = session.get(StaffMember, staff_id)
        if member is None or member.status != STAFF_ACTIVE or member.auth_epoch != auth_epoch:
            return None
        return _user(member)


def begin_staff_two_factor(db: Database, *, staff_id: int, issuer: str) -> TwoFactorSetup:
    """A fresh pending secret (replacing an unconfirmed one); off until confirmed."""
    secret = pyotp.random_base32()
    with db.write() as session:
        member = _member(session, staff_id)
        if member.totp_secret is not None:
            raise TwoFactorRefused("two-factor authentication is on already")
        member.totp_pending = seal_secret(secret)
        return totp_setup(secret, member.username, issuer)


def pending_staff_two_factor(db: Database, *, staff_id: int, issuer: str) -> TwoFactorSetup | None:
    with db.read() as session:
        member = _member(session, staff_id)
        if member.totp_pending is None:
            return None
        return totp_setup(reveal_secret(member.totp_pending), member.username, issuer)


def confirm_staff_two_factor(db: Database, *, staff_id: int, password: str, code: str) -> int:
    """Turn 2FA on: the password and a code of the pending secret.  Returns the
    new auth epoch (every other admin session of the member is logged out)."""
    with db.read() as session:
        stored = _member(session, staff_id).password_hash
    if not verify_password(password, stored):
        raise TwoFactorRefused("the password is wrong")
    with db.write() as session:
        member = _member(session, staff_id, lock=True)
        if member.totp_pending is None:
            raise TwoFactorRefused("start the set-up again: no secret is waiting to be confirmed")
        step = matching_step(reveal_secret(member.totp_pending), code, last_step=None)
        if step is None:
            raise TwoFactorRefused("the code is wrong; check the device's clock and try again")
        member.totp_secret, member.totp_pending = member.totp_pending, None
        member.totp_last_step = step
        member.auth_epoch += 1
        record_audit(
            session,
            actor=Actor.staff(member.username),
            action=AuditAction.STAFF_TWO_FACTOR_ON,
            subject=subject("staff", member.username),
        )
        return member.auth_epoch


def turn_off_staff_two_factor(db: Database, *, username: str, actor: Actor) -> bool:
    """For a lost device (`smmpanel admins two-factor-off`); False when it was off."""
    with db.write() as session:
        member = staff_by_name(session, username)
        was_on = member.totp_secret is not None
        member.totp_secret = member.totp_pending = None
        member.totp_last_step = None
        if not was_on:
            return False
        member.auth_epoch += 1
        record_audit(
            session,
            actor=actor,
            action=AuditAction.STAFF_TWO_FACTOR_OFF,
            subject=subject("staff", member.username),
        )
        return True


def _use_code(member: StaffMember, code: str) -> bool:
    assert member.totp_secret is not None
    step = matching_step(reveal_secret(member.totp_secret), code, last_step=member.totp_last_step)
    if step is None:
        return False
    member.totp_last_step = step
    return True


def _user(member: StaffMember) -> StaffUser:
    return StaffUser(
        id=member.id,
        username=member.username,
        role=member.role,
        auth_epoch=member.auth_epoch,
        two_factor=member.totp_secret is not None,
    )


def _member(session: Session, staff_id: int, *, lock: bool = False) -> StaffMember:
    query = select(StaffMember).where(StaffMember.id == staff_id)
    if lock:
        # Two logins racing with one code: the second waits, then sees the step used.
        query = query.with_for_update()
    member = session.scalar(query)
    if member is None:
        raise StaffNotFound("no such staff member")
    return member
