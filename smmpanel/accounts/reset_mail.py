"""Password reset by e-mail: "Forgot your password?" on the web.

`request_reset_email` answers nothing (the page says the same whatever
happened, so it tells no one which accounts exist); for a matching account
with an e-mail it queues an ``email`` job.  The job (`send_email_job`, run by
the worker) issues the one-time link itself, just before sending: no usable
token is ever written to the jobs table, only the account id.  A send that
fails spends its link and is retried with a fresh one; after the last attempt
the owner gets an alert.

Requests are counted per client IP and per account over 15 minutes (in the
login failures table, under their own subjects); past the limits the page
answers the same and nothing is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from smmpanel.accounts.mail_texts import reset_message
from smmpanel.accounts.models import ACTIVE, Account, LoginFailure, PasswordReset
from smmpanel.accounts.passwords import FAILURE_WINDOW, issue_reset_token, token_digest
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import enqueue
from smmpanel.mailer import MailNotSent, send_mail
from smmpanel.panel.alerts import raise_alert
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.mail")

PASSWORD_RESET = "password_reset"
MAIL_LINK_TTL = timedelta(hours=2)
MAX_ATTEMPTS = 5
# At most this many accounts share one e-mail address in an answer to one request.
MAX_ACCOUNTS_PER_REQUEST = 3


@dataclass(frozen=True)
class ResetLimits:
    """Reset requests within FAILURE_WINDOW after which nothing more is sent."""

    per_ip: int = 10
    per_account: int = 3


def request_reset_email(
    db: Database, *, login: str, ip: str, limits: ResetLimits = ResetLimits()
) -> int:
    """Queue a reset mail for the account named by `login` (its username, or
    its e-mail address), if it exists, is active and has an e-mail, and the
    limits allow.  Returns how many mails were queued: for tests and logs only,
    the page must not show it."""
    text = (login or "").strip()[:255]
    if not text or not text.isprintable():
        return 0  # no account has such a name (and PostgreSQL refuses NUL in text)
    ip_subject = f"reset-ip:{ip}"[:128]
    queued = 0
    with db.write() as session:
        if _recent(session, ip_subject) >= limits.per_ip:
            return 0
        session.add(LoginFailure(subject=ip_subject))
        for account_id in _matching_accounts(session, text):
            subject = f"reset-account:{account_id}"
            if _recent(session, subject) >= limits.per_account:
                continue
            session.add(LoginFailure(subject=subject))
            payload = {"message": PASSWORD_RESET, "account_id": account_id}
            job = enqueue(
                session,
                JobKind.EMAIL,
                payload,
                dedupe_key=f"email:{PASSWORD_RESET}:{account_id}",
                max_attempts=MAX_ATTEMPTS,
            )
            queued += job is not None
    return queued


def _recent(session: Session, subject: str) -> int:
    since = utcnow() - FAILURE_WINDOW
    return int(
        session.scalar(
            select(func.count(LoginFailure.id)).where(
                LoginFailure.subject == subject, LoginFailure.created_at >= since
            )
        )
        or 0
    )


def _matching_accounts(session: Session, text: str) -> list[int]:
    usable = (Account.status == ACTIVE) & Account.email.is_not(None) & (Account.email != "")
    by_name = session.scalar(select(Account.id).where(usable, Account.username == text))
    if by_name is not None:
        return [by_name]
    if "@" not in text:
        return []
    return list(
        session.scalars(
            select(Account.id)
            .where(usable, func.lower(Account.email) == text.lower())
            .order_by(Account.id)
            .limit(MAX_ACCOUNTS_PER_REQUEST)
        )
    )


# --- sending, by the worker ------------------------------------------------------


def send_email_job(
    db: Database,
    payload: dict[str, Any],
    *,
    settings: Settings,
    link_of: Callable[[str], str],
) -> None:
    """The ``email`` job: issue a one-time reset link and mail it.  A refused
    or failed send spends that link and retries (RetryLater)."""
    if payload.get("message") != PASSWORD_RESET:
        log.warning("email job with unknown message %r dropped", payload.get("message"))
        return
    with db.read() as session:
        account = session.get(Account, int(payload["account_id"]))
        if account is None or account.status != ACTIVE or not account.email:
            log.info("reset mail dropped: account %s has no address now", payload["account_id"])
            return
        username, email, language = account.username, account.email, account.language
    token = issue_reset_token(db, username=username, ttl=MAIL_LINK_TTL)
    subject, body = reset_message(
        language, username=username, link=link_of(token), hours=_hours(MAIL_LINK_TTL)
    )
    try:
        send_mail(settings, to=email, subject=subject, body=body)
    except MailNotSent as exc:
        _spend(db, token)
        raise RetryLater(f"reset mail not sent: {exc}") from None


def email_failed(session: Session, payload: dict[str, Any], error: str) -> None:
    """The failure hook: the owner learns that a customer's mail never left."""
    raise_alert(
        session,
        kind="email_failed",
        subject=f"account:{payload.get('account_id')}",
        message=(
            f"a password reset e-mail could not be sent after {MAX_ATTEMPTS} attempts "
            f"(check SMMPANEL_SMTP_*; `smmpanel users reset-link` gives a link by hand): {error}"
        )[:2000],
    )


def _spend(db: Database, token: str) -> None:
    """A link whose mail was not sent must not stay usable."""
    with db.write() as session:
        session.execute(
            update(PasswordReset)
            .where(PasswordReset.token_hash == token_digest(token))
            .values(used_at=utcnow())
        )


def _hours(ttl: timedelta) -> int:
    return int(ttl.total_seconds() // 3600)
