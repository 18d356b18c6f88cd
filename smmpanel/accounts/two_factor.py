"""Optional TOTP two-factor logins (RFC 6238 through pyotp).

Set-up is two steps: `begin_two_factor` keeps a fresh secret as *pending* on
the account and returns its otpauth:// URI (for the QR code);
`confirm_two_factor` turns it on once a code made from it and the password are
right.  Secrets are stored encrypted with SMMPANEL_SECRET_KEY (smmpanel.secretbox,
like webhook secrets; `smmpanel secrets rotate` re-encrypts them).

A code is accepted for the current 30-second step or the one either side of it
(clocks drift), and a step is accepted once: `totp_last_step` keeps the last
one used, so a code seen over a shoulder or replayed from a log is refused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import AccountNotFound
from smmpanel.accounts.models import ACTIVE, Account
from smmpanel.accounts.passwords import (
    LoginRefused,
    Throttle,
    WebUser,
    check_throttle,
    login_subjects,
    record_failure,
    session_user,
    verify_password,
)
from smmpanel.accounts.service import account_by_username
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, record_audit
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.secretbox import reveal_secret, seal_secret
from smmpanel.timeutil import utcnow

# Steps either side of the current one a code may come from (30 s each).
VALID_WINDOW = 1
CODE_DIGITS = 6


class TwoFactorRefused(DomainError):
    """A wrong or used code, a wrong password, or 2FA not in the state asked for."""


@dataclass(frozen=True)
class TwoFactorSetup:
    """A secret being set up: shown as a QR code of `uri` and as text."""

    secret: str
    uri: str


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    pending: TwoFactorSetup | None


def begin_two_factor(db: Database, *, account_id: int, issuer: str) -> TwoFactorSetup:
    """A fresh pending secret for the account (replacing an unconfirmed one);
    2FA stays off until `confirm_two_factor`."""
    secret = pyotp.random_base32()
    with db.write() as session:
        account = _account(session, account_id)
        if account.totp_secret is not None:
            raise TwoFactorRefused("two-factor authentication is on already")
        account.totp_pending = seal_secret(secret)
        return totp_setup(secret, account.username, issuer)


def two_factor_status(db: Database, *, account_id: int, issuer: str) -> TwoFactorStatus:
    with db.read() as session:
        account = _account(session, account_id)
        pending = None
        if account.totp_pending is not None:
            pending = totp_setup(reveal_secret(account.totp_pending), account.username, issuer)
        return TwoFactorStatus(enabled=account.totp_secret is not None, pending=pending)


def requires_code(db: Database, *, account_id: int) -> bool:
    """Whether logging in to the account takes a code after the password."""
    with db.read() as session:
        stored = session.scalar(select(Account.totp_secret).where(Account.id == account_id))
        return stored is not None


def confirm_two_factor(db: Database, *, account_id: int, password: str, code: str) -> int:
    """Turn 2FA on with the pending secret: the password and a code made from
    the secret must be right.  Returns the account's new auth epoch: every other
    web session (one an attacker with the password may hold) is logged out."""
    with db.read() as session:
        stored = _account(session, account_id).password_hash
    if not verify_password(password, stored):
        raise TwoFactorRefused("the password is wrong")
    with db.write() as session:
        account = _account(session, account_id, lock=True)
        if account.totp_pending is None:
            raise TwoFactorRefused("start the set-up again: no secret is waiting to be confirmed")
        secret = reveal_secret(account.totp_pending)
        step = matching_step(secret, code, last_step=None)
        if step is None:
            raise TwoFactorRefused("the code is wrong; check the device's clock and try again")
        account.totp_secret, account.totp_pending = account.totp_pending, None
        account.totp_last_step = step
        account.auth_epoch = (account.auth_epoch or 0) + 1
        return account.auth_epoch


def disable_two_factor(db: Database, *, account_id: int, password: str, code: str) -> None:
    """The customer turns 2FA off: the password and a current code."""
    with db.read() as session:
        stored = _account(session, account_id).password_hash
    if not verify_password(password, stored):
        raise TwoFactorRefused("the password is wrong")
    with db.write() as session:
        account = _account(session, account_id, lock=True)
        if account.totp_secret is None:
            raise TwoFactorRefused("two-factor authentication is off")
        if not _use_code(account, code):
            raise TwoFactorRefused("the code is wrong or used already")
        _clear(account)


def log_in_code(
    db: Database,
    *,
    account_id: int,
    auth_epoch: int,
    code: str,
    ip: str,
    throttle: Throttle = Throttle(),
) -> WebUser:
    """The second step of a login whose password was right: the account, once a
    code is right.  A wrong code counts as a refused login (per IP and per
    username), and the throttle is checked first, as for passwords."""
    with db.read() as session:
        username = session.scalar(select(Account.username).where(Account.id == account_id))
    if username is None:
        raise LoginRefused("log in again")
    subjects = login_subjects(ip, username)
    with db.read() as session:
        check_throttle(session, subjects, throttle)
    with db.write() as session:
        account = _account(session, account_id, lock=True)
        valid = (
            account.status == ACTIVE
            and account.auth_epoch == auth_epoch
            and account.totp_secret is not None
        )
        accepted = valid and _use_code(account, code)
    if not accepted:
        record_failure(db, subjects)
        raise LoginRefused("the code is wrong or used already")
    user = session_user(db, account_id=account_id, auth_epoch=auth_epoch)
    if user is None:
        raise LoginRefused("log in again")
    return user


def turn_off_two_factor(db: Database, *, username: str, actor: Actor) -> bool:
    """The owner's escape hatch for a customer who lost the device; False when
    it was off already.  Audited."""
    with db.write() as session:
        account = account_by_username(session, username)
        was_on = account.totp_secret is not None
        _clear(account)
        if not was_on:
            return False  # at most a set-up never confirmed, now dropped
        record_audit(
            session,
            actor=actor,
            action=AuditAction.TWO_FACTOR_TURNED_OFF,
            subject=account_subject(account.id),
            before={"two_factor": True},
            after={"two_factor": False},
        )
        return True


def current_code(secret: str, at: datetime | None = None) -> str:
    """The code of `secret` now (tests and the owner's checks)."""
    return pyotp.TOTP(secret).at(at or utcnow())


def _use_code(account: Account, code: str) -> bool:
    """Whether `code` is right for the enabled secret and its step unused; the
    step is then recorded (in the caller's transaction) so it works once."""
    assert account.totp_secret is not None
    secret = reveal_secret(account.totp_secret)
    step = matching_step(secret, code, last_step=account.totp_last_step)
    if step is None:
        return False
    account.totp_last_step = step
    return True


def matching_step(secret: str, code: str, *, last_step: int | None) -> int | None:
    """The time step within the window whose code `code` is, if later than
    `last_step`; None otherwise."""
    cleaned = "".join((code or "").split())
    if len(cleaned) != CODE_DIGITS or not cleaned.isascii() or not cleaned.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(utcnow())
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), cleaned):
            return step
    return None


def totp_setup(secret: str, username: str, issuer: str) -> TwoFactorSetup:
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer or "smmpanel")
    return TwoFactorSetup(secret=secret, uri=uri)


def _clear(account: Account) -> None:
    account.totp_secret = account.totp_pending = None
    account.totp_last_step = None


def _account(session: Session, account_id: int, *, lock: bool = False) -> Account:
    query = select(Account).where(Account.id == account_id)
    if lock:
        # Two logins racing with one code: the second waits, then sees the step used.
        query = query.with_for_update()
    account = session.execute(query).scalar_one_or_none()
    if account is None:
        raise AccountNotFound("no such account")
    return account
