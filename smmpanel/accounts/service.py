"""Commands that change accounts, keys, currencies and custom rates."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import (
    AccountExists,
    AccountNotFound,
    InvalidAccountInput,
    UnknownCurrency,
)
from smmpanel.accounts.models import ACCOUNT_STATUSES, SUSPENDED, Account, ApiKey, Currency
from smmpanel.accounts.rate_limit import DEFAULT, BadRate, normalise_rate
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, changed_fields, record_audit, subject
from smmpanel.db import Database
from smmpanel.money import (
    parse_exchange_rate,
    plain_decimal,
)
from smmpanel.panel.settings import get_setting
from smmpanel.timeutil import utcnow
from smmpanel.tokens import new_token

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3,8}$")
KEY_BYTES = 32


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """256 random bits in the URL-safe alphabet: safe unescaped in a query string."""
    return new_token(KEY_BYTES)


@dataclass(frozen=True)
class NewAccount:
    id: int
    username: str
    api_key: str


def create_account(
    db: Database,
    *,
    username: str,
    email: str | None = None,
    currency: str | None = None,
    actor: Actor = Actor.system(),
) -> NewAccount:
    """Create an account and its first API key (returned once, stored hashed)."""
    if not USERNAME_RE.match(username or ""):
        raise InvalidAccountInput("a username is 1-64 letters, digits or . _ - @")
    with db.write() as session:
        code = _currency_code(session, currency)
        if session.execute(select(Account.id).where(Account.username == username)).first():
            raise AccountExists(f"account {username!r} exists already")
        account = Account(username=username, email=email, currency=code, balance=0)
        session.add(account)
        session.flush()
        key = _issue_key(session, account.id)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.ACCOUNT_CREATED,
            subject=account_subject(account.id),
            after={"username": username, "email": email, "currency": code},
        )
        return NewAccount(id=account.id, username=username, api_key=key)


def rotate_api_key(db: Database, *, username: str, actor: Actor = Actor.system()) -> str:
    """Revoke every key of the account and issue a new one."""
    with db.write() as session:
        account = account_by_username(session, username)
        active = (ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
        revoked = session.scalar(select(func.count(ApiKey.id)).where(*active)) or 0
        session.execute(update(ApiKey).where(*active).values(revoked_at=utcnow()))
        # The count only: neither key (nor its hash) ever goes into the trail.
        record_audit(
            session,
            actor=actor,
            action=AuditAction.KEY_ROTATED,
            subject=account_subject(account.id),
            after={"keys_revoked": revoked},
        )
        return _issue_key(session, account.id)


def _issue_key(session: Session, account_id: int) -> str:
    key = new_api_key()
    session.add(ApiKey(account_id=account_id, key_hash=hash_key(key), prefix=key[:6]))
    return key


def set_account_options(
    db: Database,
    *,
    username: str,
    extended_fields: bool | None = None,
    status: str | None = None,
    email: str | None = None,
    actor: Actor = Actor.system(),
) -> None:
    if status is not None and status not in ACCOUNT_STATUSES:
        raise InvalidAccountInput(f"status is one of {', '.join(ACCOUNT_STATUSES)}")
    with db.write() as session:
        account = account_by_username(session, username)
        before = {"extended_fields": account.extended_fields, "email": account.email}
        if extended_fields is not None:
            account.extended_fields = extended_fields
        if status is not None and status != account.status:
            _audit_status(session, account, status, actor)
            account.status = status
        if email is not None:
            account.email = email or None
        old, new = changed_fields(
            before, {"extended_fields": account.extended_fields, "email": account.email}
        )
        if new:
            record_audit(
                session,
                actor=actor,
                action=AuditAction.ACCOUNT_CHANGED,
                subject=account_subject(account.id),
                before=old,
                after=new,
            )


def _audit_status(session: Session, account: Account, status: str, actor: Actor) -> None:
    record_audit(
        session,
        actor=actor,
        action=(
            AuditAction.ACCOUNT_SUSPENDED
            if status == SUSPENDED
            else AuditAction.ACCOUNT_UNSUSPENDED
        ),
        subject=account_subject(account.id),
        before={"status": account.status},
        after={"status": status},
    )


def set_rate_limit(
    db: Database, *, username: str, rate_limit: str, actor: Actor = Actor.system()
) -> str | None:
    """Give the account's keys their own API rate limit (``N/second``, ``N/minute``,
    ``N/hour`` or ``off``), or ``default`` for the panel's; returns what is stored
    (None: the default).  A running server applies it within seconds."""
    text = (rate_limit or "").strip().lower()
    try:
        stored = None if text == DEFAULT else normalise_rate(text)
    except BadRate as exc:
        raise InvalidAccountInput(f"{exc} (or default)") from None
    with db.write() as session:
        account = account_by_username(session, username)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.RATE_LIMIT_SET,
            subject=account_subject(account.id),
            before={"rate_limit": account.rate_limit or DEFAULT},
            after={"rate_limit": stored or DEFAULT},
        )
        account.rate_limit = stored
    return stored


def set_currency_rate(
    db: Database, *, code: str, rate: Decimal | str, actor: Actor = Actor.system()
) -> Decimal:
    """Set how many units of `code` one base unit buys.  Existing balances are kept
    in their own currency, so a rate change never alters them."""
    code = (code or "").strip().upper()
    if not CURRENCY_RE.match(code):
        raise InvalidAccountInput("a currency code is 3-8 capital letters, like EUR")
    value = parse_exchange_rate(rate)
    text = plain_decimal(value)  # stored without exponent or trailing zeros
    with db.write() as session:
        if code == get_setting(session, "base_currency") and value != 1:
            raise InvalidAccountInput(f"{code} is the base currency; its rate is 1")
        row = session.get(Currency, code)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.CURRENCY_RATE_SET,
            subject=subject("currency", code),
            before={"rate": None if row is None else row.rate},
            after={"rate": text},
        )
        if row is None:
            session.add(Currency(code=code, rate=text))
        else:
            row.rate = text
            row.updated_at = utcnow()
    return Decimal(text)


def account_by_username(session: Session, username: str) -> Account:
    account = session.execute(
        select(Account).where(Account.username == username)
    ).scalar_one_or_none()
    if account is None:
        raise AccountNotFound(f"no account {username!r}")
    return account


def _currency_code(session: Session, currency: str | None) -> str:
    code = (currency or get_setting(session, "base_currency")).strip().upper()
    if session.get(Currency, code) is None:
        raise UnknownCurrency(
            f"unknown currency {code!r}; set its rate first: smmpanel currencies set {code} RATE"
        )
    return code
