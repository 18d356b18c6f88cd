"""Web logins: passwords (argon2 through pwdlib), session epochs, one-time reset
links and the throttling of password guessing.

A web session holds the account id and the account's `auth_epoch` at login;
changing or resetting the password bumps the epoch, so every other session of
the account stops being valid at its next request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from pwdlib import PasswordHash
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import AccountNotFound, InvalidAccountInput
from smmpanel.accounts.models import ACTIVE, Account, Currency, LoginFailure, PasswordReset
from smmpanel.accounts.service import account_by_username, create_account, rotate_api_key
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, record_audit
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.panel.settings import get_setting
from smmpanel.timeutil import as_utc, utcnow
from smmpanel.tokens import new_token

MIN_PASSWORD = 8
MAX_PASSWORD = 256  # argon2 hashes any length; a bound keeps a request's work bounded
RESET_TTL = timedelta(hours=24)
# Refused logins counted over this window, per client IP and per username.
FAILURE_WINDOW = timedelta(minutes=15)
LANGUAGES = ("en", "ru")

_hasher = PasswordHash.recommended()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong username costs
    the same time as a wrong password and does not tell which accounts exist.
    Made on first use, not on import: one argon2 hash costs ~0.1 s, and every
    run of the command line imports this module (measured)."""
    return _hasher.hash("not a password of anyone")


class LoginRefused(DomainError):
    """Wrong username or password (which one is not said), or a suspended account."""


class LoginThrottled(DomainError):
    """Too many refused logins from this IP or for this username, recently."""


class ResetLinkInvalid(DomainError):
    """Unknown, used or expired reset link."""


@dataclass(frozen=True)
class WebUser:
    """The account a web session acts for."""

    id: int
    username: str
    email: str | None
    currency: str
    balance: int
    language: str | None
    auth_epoch: int
    # Units of `currency` per base unit: prices are shown in the account's currency.
    fx_rate: Decimal


@dataclass(frozen=True)
class Throttle:
    """How many refused logins, within FAILURE_WINDOW, lock out further attempts."""

    per_ip: int = 20
    per_user: int = 5


def hash_password(password: str) -> str:
    """The argon2 hash of an acceptable password; InvalidAccountInput otherwise."""
    check_password(password)
    return _hasher.hash(password)


def check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidAccountInput(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidAccountInput(f"a password has at most {MAX_PASSWORD} characters")


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` is the one hashed in `stored` (False without a hash;
    the same argon2 work either way)."""
    return _hasher.verify(password or "", stored or _dummy_hash()) and stored is not None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def log_in(
    db: Database, *, username: str, password: str, ip: str, throttle: Throttle = Throttle()
) -> WebUser:
    """The account whose password this is; LoginThrottled when this IP or this
    username failed too often lately (checked before the password, so guessing
    stops even when the guess is right), LoginRefused for a wrong one."""
    name = (username or "").strip()
    subjects = login_subjects(ip, name)
    with db.read() as session:
        check_throttle(session, subjects, throttle)
        account = session.execute(select(Account).where(Account.username == name)).scalar()
        stored = account.password_hash if account is not None else None
        user = _web_user(session, account) if account is not None else None
    # Hashing outside any transaction: it takes tens of milliseconds.
    valid = _hasher.verify(password or "", stored or _dummy_hash()) and stored is not None
    if not valid or account is None or user is None or account.status != ACTIVE:
        record_failure(db, subjects)
        raise LoginRefused("wrong username or password")
    return user


def login_subjects(ip: str, username: str) -> tuple[str, str]:
    """What refused logins are counted against: the client IP and the username."""
    return (f"ip:{ip}"[:128], f"user:{username.strip().lower()}"[:128])


def check_throttle(session: Session, subjects: tuple[str, str], throttle: Throttle) -> None:
    since = utcnow() - FAILURE_WINDOW
    counts = dict(
        session.execute(
            select(LoginFailure.subject, func.count(LoginFailure.id))
            .where(LoginFailure.subject.in_(subjects), LoginFailure.created_at >= since)
            .group_by(LoginFailure.subject)
        ).all()
    )
    ip_subject, user_subject = subjects
    if counts.get(ip_subject, 0) >= throttle.per_ip or counts.get(user_subject, 0) >= (
        throttle.per_user
    ):
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise LoginThrottled(f"too many failed logins; try again in {minutes} minutes")


def record_failure(db: Database, subjects: tuple[str, ...]) -> None:
    """Count one refused attempt against each subject (old rows go as new ones come)."""
    with db.write() as session:
        session.execute(
            delete(LoginFailure).where(LoginFailure.created_at < utcnow() - FAILURE_WINDOW)
        )
        session.add_all(LoginFailure(subject=subject) for subject in subjects)


def session_user(db: Database, *, account_id: int, auth_epoch: int) -> WebUser | None:
    """The account of a web session, or None when the session is no longer valid
    (the password changed since, the account was suspended or removed)."""
    with db.read() as session:
        account = session.get(Account, account_id)
        if (
            account is None
            or account.status != ACTIVE
            or account.password_hash is None
            or account.auth_epoch != auth_epoch
        ):
            return None
        return _web_user(session, account)


def set_password(db: Database, *, username: str, password: str) -> int:
    """Give the account a password (the owner's command); returns the new epoch,
    which logs out every web session of the account."""
    hashed = hash_password(password)
    with db.write() as session:
        account = account_by_username(session, username)
        return _store_password(session, account, hashed)


def change_password(db: Database, *, account_id: int, current: str, new: str) -> int:
    """The customer's own change: the current password first; returns the new
    epoch (the caller's session takes it, every other one is logged out)."""
    hashed = hash_password(new)
    with db.read() as session:
        stored = session.scalar(select(Account.password_hash).where(Account.id == account_id))
    if stored is None or not _hasher.verify(current or "", stored):
        raise LoginRefused("the current password is wrong")
    with db.write() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise AccountNotFound("no such account")
        return _store_password(session, account, hashed)


def rotate_own_api_key(
    db: Database, *, account_id: int, password: str, ip: str, throttle: Throttle = Throttle()
) -> str:
    """The customer replaces their API key from the web, proving it is them
    with the password (a stolen session alone cannot take the key); returns
    the new key, to be shown this once.  Wrong passwords count as failed
    logins of the account and the IP, so the form cannot be used to guess."""
    with db.read() as session:
        row = session.execute(
            select(Account.username, Account.password_hash).where(Account.id == account_id)
        ).first()
        if row is None:
            raise AccountNotFound("no such account")
        subjects = (f"ip:{ip}"[:128], f"user:{row[0].lower()}"[:128])
        check_throttle(session, subjects, throttle)
    if row[1] is None or not _hasher.verify(password or "", row[1]):
        record_failure(db, subjects)
        raise LoginRefused("the password is wrong")
    return rotate_api_key(db, username=row[0], actor=Actor("web", row[0]))


def _store_password(session: Session, account: Account, hashed: str) -> int:
    account.password_hash = hashed
    account.auth_epoch = (account.auth_epoch or 0) + 1
    return account.auth_epoch


def issue_reset_token(
    db: Database, *, username: str, ttl: timedelta = RESET_TTL, actor: Actor | None = None
) -> str:
    """A one-time token to set the account's password (the owner sends its link);
    only its hash is stored.  Earlier unused tokens of the account stay valid
    until they expire or one is used.  A link issued by a person (`actor`: the
    CLI, a staff member) is audited, without the token; one the customer asks
    for by mail is not (it is throttled instead)."""
    token = new_token(32)
    with db.write() as session:
        account = account_by_username(session, username)
        session.add(
            PasswordReset(
                account_id=account.id, token_hash=token_digest(token), expires_at=utcnow() + ttl
            )
        )
        if actor is not None:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.RESET_LINK_ISSUED,
                subject=account_subject(account.id),
                # How long it works (from the row's time), never the token itself.
                after={"valid_seconds": int(ttl.total_seconds())},
            )
    return token


def reset_target(db: Database, *, token: str) -> str:
    """The username a valid reset token is for; ResetLinkInvalid otherwise."""
    with db.read() as session:
        reset = _valid_reset(session, token)
        return session.get_one(Account, reset.account_id).username


def reset_password(db: Database, *, token: str, password: str) -> WebUser:
    """Set the password through a reset token and use the token up: every other
    token of the account is spent too, and every web session logged out."""
    hashed = hash_password(password)
    with db.write() as session:
        reset = _valid_reset(session, token)
        now = utcnow()
        session.execute(
            update(PasswordReset)
            .where(PasswordReset.account_id == reset.account_id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        account = session.get_one(Account, reset.account_id)
        _store_password(session, account, hashed)
        return _web_user(session, account)


def _valid_reset(session: Session, token: str) -> PasswordReset:
    if not token or len(token) > 128:
        raise ResetLinkInvalid("this link is not valid")
    reset = session.execute(
        select(PasswordReset).where(PasswordReset.token_hash == token_digest(token))
    ).scalar()
    if (
        reset is None
        or not hmac.compare_digest(reset.token_hash, token_digest(token))
        or reset.used_at is not None
        or as_utc(reset.expires_at) <= utcnow()
    ):
        raise ResetLinkInvalid("this link is not valid, used already, or expired")
    return reset


def set_language(db: Database, *, account_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidAccountInput(f"a language is one of {', '.join(LANGUAGES)}")
    with db.write() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise AccountNotFound("no such account")
        account.language = language


def _web_user(session: Session, account: Account) -> WebUser:
    return WebUser(
        fx_rate=Decimal(session.get_one(Currency, account.currency).rate),
        id=account.id,
        username=account.username,
        email=account.email,
        currency=account.currency,
        balance=account.balance,
        language=account.language,
        auth_epoch=account.auth_epoch,
    )


EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")


class SignupClosed(DomainError):
    """The owner turned sign-up off (setting `signup`)."""


def sign_up(
    db: Database, *, username: str, email: str, password: str, language: str | None = None
) -> WebUser:
    """A new customer account from the web form, logged in at once."""
    with db.read() as session:
        if get_setting(session, "signup") != "on":
            raise SignupClosed("sign-up is closed on this panel; ask its owner for an account")
    email = (email or "").strip()
    if not EMAIL_RE.match(email):
        raise InvalidAccountInput("an e-mail address looks like name@example.com")
    hashed = hash_password(password)
    created = create_account(
        db,
        username=(username or "").strip(),
        email=email,
        password_hash=hashed,
        language=language if language in LANGUAGES else None,
        actor=Actor("web", (username or "").strip()),
    )
    with db.read() as session:
        return _web_user(session, session.get_one(Account, created.id))
