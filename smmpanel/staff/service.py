"""Adding and changing staff members (`smmpanel admins ...`, later the admin's
own pages).  Every change is audited, and one that changes what a member may
do bumps their auth epoch, which logs out their open sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import InvalidAccountInput
from smmpanel.accounts.passwords import hash_password
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit, subject
from smmpanel.db import Database
from smmpanel.staff.errors import InvalidStaffInput, LastOwner, StaffExists, StaffNotFound
from smmpanel.staff.models import STAFF_ACTIVE, STAFF_DISABLED, StaffMember
from smmpanel.staff.roles import Role
from smmpanel.tokens import new_token

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
GENERATED_PASSWORD_BYTES = 15  # 20 characters of the URL-safe alphabet


@dataclass(frozen=True)
class StaffRow:
    id: int
    username: str
    role: str
    status: str
    two_factor: bool
    created_at: datetime
    last_login_at: datetime | None


def generated_password() -> str:
    return new_token(GENERATED_PASSWORD_BYTES)


def add_staff(
    db: Database, *, username: str, role: str, password: str | None = None, actor: Actor
) -> tuple[int, str]:
    """A new staff member; returns their id and password (a generated one when
    `password` is None, shown to the owner once)."""
    name = (username or "").strip()
    if not USERNAME_RE.match(name):
        raise InvalidStaffInput("a staff username is 1-64 letters, digits or . _ - @")
    chosen = _role(role)
    secret = generated_password() if password is None else password
    hashed = _hashed(secret)  # outside the transaction: argon2 takes tens of ms
    with db.write() as session:
        if session.scalar(select(StaffMember.id).where(StaffMember.username == name)):
            raise StaffExists(f"a staff member named {name} exists already")
        member = StaffMember(username=name, role=chosen, password_hash=hashed)
        session.add(member)
        session.flush()
        record_audit(
            session,
            actor=actor,
            action=AuditAction.STAFF_ADDED,
            subject=subject("staff", name),
            after={"role": chosen},
        )
        return member.id, secret


def change_staff_role(db: Database, *, username: str, role: str, actor: Actor) -> None:
    chosen = _role(role)
    with db.write() as session:
        member = staff_by_name(session, username)
        if member.role == chosen:
            return
        if member.role == Role.OWNER:
            _keep_an_owner(session, member)
        before = member.role
        member.role = chosen
        member.auth_epoch += 1
        record_audit(
            session,
            actor=actor,
            action=AuditAction.STAFF_ROLE_CHANGED,
            subject=subject("staff", member.username),
            before={"role": before},
            after={"role": chosen},
        )


def set_staff_active(db: Database, *, username: str, active: bool, actor: Actor) -> bool:
    """Disable (logging them out) or re-enable a member; False when nothing changed."""
    wanted = STAFF_ACTIVE if active else STAFF_DISABLED
    with db.write() as session:
        member = staff_by_name(session, username)
        if member.status == wanted:
            return False
        if not active and member.role == Role.OWNER:
            _keep_an_owner(session, member)
        member.status = wanted
        member.auth_epoch += 1
        record_audit(
            session,
            actor=actor,
            action=AuditAction.STAFF_ENABLED if active else AuditAction.STAFF_DISABLED,
            subject=subject("staff", member.username),
            before={"status": STAFF_DISABLED if active else STAFF_ACTIVE},
            after={"status": wanted},
        )
        return True


def reset_staff_password(
    db: Database, *, username: str, password: str | None = None, actor: Actor
) -> str:
    """A new password (generated when None), returned once; logs the member out."""
    secret = generated_password() if password is None else password
    hashed = _hashed(secret)
    with db.write() as session:
        member = staff_by_name(session, username)
        member.password_hash = hashed
        member.auth_epoch += 1
        record_audit(
            session,
            actor=actor,
            action=AuditAction.STAFF_PASSWORD_RESET,
            subject=subject("staff", member.username),
        )
    return secret


def list_staff(db: Database) -> list[StaffRow]:
    with db.read() as session:
        members = session.scalars(select(StaffMember).order_by(StaffMember.id)).all()
        return [
            StaffRow(
                id=m.id,
                username=m.username,
                role=m.role,
                status=m.status,
                two_factor=m.totp_secret is not None,
                created_at=m.created_at,
                last_login_at=m.last_login_at,
            )
            for m in members
        ]


def staff_by_name(session: Session, username: str) -> StaffMember:
    member = session.scalar(select(StaffMember).where(StaffMember.username == username.strip()))
    if member is None:
        raise StaffNotFound(f"no staff member named {username.strip()[:64]}")
    return member


def _hashed(password: str) -> str:
    try:
        return hash_password(password)
    except InvalidAccountInput as exc:
        raise InvalidStaffInput(str(exc)) from None


def _role(role: str) -> str:
    try:
        return Role((role or "").strip().lower()).value
    except ValueError:
        raise InvalidStaffInput(
            f"a role is one of {', '.join(r.value for r in Role)}, not {role[:32]!r}"
        ) from None


def _keep_an_owner(session: Session, leaving: StaffMember) -> None:
    """Refuse a change that would leave no active owner to run the panel."""
    others = session.scalar(
        select(func.count(StaffMember.id)).where(
            StaffMember.role == Role.OWNER,
            StaffMember.status == STAFF_ACTIVE,
            StaffMember.id != leaving.id,
        )
    )
    if not others:
        raise LastOwner(f"{leaving.username} is the only active owner; add another owner first")
