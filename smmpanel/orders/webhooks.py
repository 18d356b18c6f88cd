"""Per-account webhooks: order status changes POSTed, signed, to the owner's URL.

- ``set_webhook`` / ``rotate_webhook_secret`` manage the URL and its secret.
- ``queue_status_webhook`` runs inside the transaction that changes an order
  (called by ``change_order_status``) and writes a ``webhook`` job, so the
  delivery exists exactly when the change does.  The JSON body is fixed then,
  so every retry sends the same bytes.
- ``deliver_webhook`` is the job handler: it re-reads the URL and secret (the
  owner may have changed or removed them), POSTs the body with an HMAC-SHA256
  signature, and raises on a transport error or a non-2xx answer so that the
  worker retries with backoff (up to ``MAX_ATTEMPTS``).
- ``verify_signature`` is the receiver's check.

Delivery is at least once: a receiver deduplicates on ``X-Smmpanel-Delivery``.
URLs go through the outbound guard (`smmpanel.netguard`) when they are set
and again at each connection; secrets are stored encrypted (`smmpanel.secretbox`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smmpanel.accounts.errors import InvalidAccountInput, NoWebhook
from smmpanel.accounts.models import Account
from smmpanel.accounts.service import account_by_username
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, record_audit
from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.jobs.kinds import JobKind
from smmpanel.jobs.queue import enqueue, enqueue_many
from smmpanel.money import format_units
from smmpanel.netguard import (
    OutboundPolicy,
    UrlRefused,
    check_url,
    check_url_form,
    current_policy,
    guarded_client,
)
from smmpanel.orders.models import Order, OrderEvent
from smmpanel.orders.queries import order_cost
from smmpanel.secretbox import reveal_secret, seal_secret
from smmpanel.timeutil import as_utc
from smmpanel.tokens import new_token

log = logging.getLogger("smmpanel.webhooks")

WEBHOOK_JOB = JobKind.WEBHOOK
STATUS_EVENT = "order.status"
MAX_ATTEMPTS = 10
TIMEOUT_SECONDS = 10.0
SECRET_BYTES = 32
MAX_URL_LENGTH = 500  # the width of accounts.webhook_url
SIGNATURE_PREFIX = "sha256="
USER_AGENT = "smmpanel-webhooks"

# session.info key of the per-transaction cache {account_id: has a webhook}.
_CACHE_KEY = "smmpanel.webhooks.accounts"


class InvalidWebhookUrl(InvalidAccountInput):
    pass


# --- the owner's commands -------------------------------------------------------


def set_webhook(
    db: Database, *, username: str, url: str | None, actor: Actor = Actor.system()
) -> str | None:
    """Set (or, with ``url=None``, remove) the account's webhook URL.

    Setting a URL on an account without a secret generates one and returns it:
    it is shown this once.  Changing the URL keeps the existing secret and
    returns None.  Removing the URL removes the secret too; deliveries still
    queued are then dropped.
    """
    clean = None if url is None else validate_webhook_url(url)
    with db.write() as session:
        account = account_by_username(session, username)
        session.info.pop(_CACHE_KEY, None)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.WEBHOOK_SET if clean else AuditAction.WEBHOOK_REMOVED,
            subject=account_subject(account.id),
            before={"url": audited_url(account.webhook_url)},
            # Whether a new signing secret was issued (never the secret itself).
            after={
                "url": audited_url(clean),
                "new_secret": bool(clean and not account.webhook_secret),
            },
        )
        if clean is None:
            account.webhook_url = account.webhook_secret = None
            return None
        account.webhook_url = clean
        if account.webhook_secret:
            return None
        secret = new_webhook_secret()
        account.webhook_secret = seal_secret(secret)
        return secret


def rotate_webhook_secret(db: Database, *, username: str, actor: Actor = Actor.system()) -> str:
    """Replace the secret; returns the new one (shown once).  Deliveries still
    queued are signed with the new secret when they are sent."""
    with db.write() as session:
        account = account_by_username(session, username)
        if not account.webhook_url:
            raise NoWebhook(f"account {username!r} has no webhook; set a URL first")
        secret = new_webhook_secret()
        account.webhook_secret = seal_secret(secret)
        record_audit(
            session,
            actor=actor,
            action=AuditAction.WEBHOOK_SECRET_ROTATED,
            subject=account_subject(account.id),
            after={"url": audited_url(account.webhook_url)},
        )
        return secret


def audited_url(url: str | None) -> str | None:
    """The URL as the audit trail keeps it: without user, password or query,
    where a receiver's own token may hide."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def new_webhook_secret() -> str:
    return new_token(SECRET_BYTES)


def validate_webhook_url(url: str, *, policy: OutboundPolicy | None = None) -> str:
    """An absolute http(s) URL with a host, at most 500 characters, that the
    outbound guard lets the panel call; returns it stripped."""
    text = (url or "").strip()
    if not text:
        raise InvalidWebhookUrl("the webhook URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"the webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidWebhookUrl("the webhook URL must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a port that is not a number in 0-65535
        httpx.URL(text)
    except (ValueError, httpx.InvalidURL) as exc:
        raise InvalidWebhookUrl(f"not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookUrl("the webhook URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidWebhookUrl("the webhook URL has no host")
    try:
        check_url(text, policy or current_policy())
    except UrlRefused as exc:
        raise InvalidWebhookUrl(f"the webhook URL is refused: {exc}") from None
    return text


# --- queueing, inside the transaction that changes the order --------------------


def queue_status_webhook(session: Session, order: Order) -> bool:
    """Queue a delivery of the order's new state when its account has a webhook.

    Called by ``change_order_status`` after each recorded change.  Without a
    webhook this costs one primary-key lookup per account per transaction (a
    status sync changing many orders of one account asks once).  Returns True
    when a job was queued.
    """
    if order.account_id not in accounts_with_webhook(session, (order.account_id,)):
        return False
    # Status events only: moves of the forwarding state (to_forward set) are
    # not changes a webhook reports, and must not shift the numbering.
    event_number = session.scalar(
        select(func.count())
        .select_from(OrderEvent)
        .where(OrderEvent.order_id == order.id, OrderEvent.to_forward.is_(None))
    )
    change = OrderChange(
        order_id=order.id,
        account_id=order.account_id,
        status=order.status,
        cost=order_cost(session, order),
        start_count=order.start_count,
        remains=order.remains,
        currency=order.currency,
        changed_at=order.updated_at,
    )
    payload = _status_payload(change, int(event_number or 0))
    return enqueue(session, JobKind.WEBHOOK, payload, max_attempts=MAX_ATTEMPTS) is not None


@dataclass(frozen=True)
class OrderChange:
    """What a webhook reports of an order's new state (`cost`: what it costs
    now, refunds taken off, as `status` reports it)."""

    order_id: int
    account_id: int
    status: str
    cost: int
    start_count: int | None
    remains: int
    currency: str
    changed_at: datetime


def queue_status_webhooks(session: Session, changes: Sequence[OrderChange]) -> int:
    """queue_status_webhook for orders changed in bulk (their events written):
    one query for their accounts, one for their event numbers, one INSERT of
    the jobs; returns how many were queued."""
    hooked = accounts_with_webhook(session, {c.account_id for c in changes})
    changes = [c for c in changes if c.account_id in hooked]
    if not changes:
        return 0
    numbers = dict(
        session.execute(
            select(OrderEvent.order_id, func.count())
            .where(
                OrderEvent.order_id.in_([c.order_id for c in changes]),
                OrderEvent.to_forward.is_(None),
            )
            .group_by(OrderEvent.order_id)
        ).all()
    )
    payloads = [_status_payload(c, numbers.get(c.order_id, 0)) for c in changes]
    return enqueue_many(session, JobKind.WEBHOOK, payloads, max_attempts=MAX_ATTEMPTS)


def _status_payload(change: OrderChange, event_number: int) -> dict[str, Any]:
    event_id = f"order-{change.order_id}-{event_number}"
    changed_at = as_utc(change.changed_at)
    body = {
        "id": event_id,
        "event": STATUS_EVENT,
        "order": change.order_id,
        "status": change.status,
        # What the order costs now, refunds taken off: the same as `status`.
        "charge": format_units(change.cost),
        "start_count": str(change.start_count or 0),
        "remains": str(change.remains),
        "currency": change.currency,
        "timestamp": _iso(changed_at),
    }
    return {
        "account_id": change.account_id,
        "event": STATUS_EVENT,
        "event_id": event_id,
        "timestamp": int(changed_at.timestamp()),
        "body": encode_body(body),
    }


def accounts_with_webhook(session: Session, account_ids: Collection[int]) -> set[int]:
    """Which of these accounts have a webhook, asked in one query (and kept
    for the transaction, as each order's change asks again)."""
    known = _known_webhooks(session)
    unknown = {a for a in account_ids if a not in known}
    if unknown:
        query = select(Account.id, Account.webhook_url).where(Account.id.in_(list(unknown)))
        known.update({account_id: bool(url) for account_id, url in session.execute(query)})
    return {a for a in account_ids if known.get(a)}


def _known_webhooks(session: Session) -> dict[int, bool]:
    """The transaction's answers so far: account id -> has a webhook."""
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if cached is None or cached[0] is not transaction:
        cached = (transaction, {})
        session.info[_CACHE_KEY] = cached
    known: dict[int, bool] = cached[1]
    return known


def encode_body(body: dict[str, Any]) -> str:
    """Compact JSON; sent as UTF-8."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- delivery, by the worker ----------------------------------------------------


def deliver_webhook(db: Database, payload: dict[str, Any]) -> None:
    """The ``webhook`` job: POST the stored body, signed with the current secret."""
    with db.read() as session:
        row = session.execute(
            select(Account.webhook_url, Account.webhook_secret).where(
                Account.id == payload["account_id"]
            )
        ).one_or_none()
    if row is None or not row.webhook_url or not row.webhook_secret:
        log.info("webhook %s dropped: the account has no webhook now", payload["event_id"])
        return
    body = payload["body"].encode("utf-8")
    host = urlsplit(row.webhook_url).hostname
    try:
        # Checked again: a URL stored before the guard existed may carry a password.
        check_url_form(row.webhook_url)
    except UrlRefused as exc:
        failure = f"webhook {payload['event_id']} to {host}: the URL is refused: {exc}"
        log.warning("%s; will retry", failure)
        raise RetryLater(failure) from None
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Smmpanel-Event": payload["event"],
        "X-Smmpanel-Delivery": payload["event_id"],
        "X-Smmpanel-Timestamp": str(payload["timestamp"]),
        "X-Smmpanel-Signature": sign(reveal_secret(row.webhook_secret), body),
    }
    try:
        # Streamed and never read: a receiver's large answer costs nothing.
        # Redirects are not followed; TLS certificates are verified; the guard
        # connects only to an address it checked (private ones refused).
        with (
            guarded_client(timeout=TIMEOUT_SECONDS) as http,
            http.stream("POST", row.webhook_url, content=body, headers=headers) as response,
        ):
            status = response.status_code
    except httpx.HTTPError as exc:
        failure = f"webhook {payload['event_id']} to {host}: {type(exc).__name__}: {exc}"
    else:
        if 200 <= status < 300:
            return
        failure = f"webhook {payload['event_id']} to {host}: HTTP {status}"
    # RetryLater without a delay: the worker retries with exponential backoff.
    log.warning("%s; will retry", failure)
    raise RetryLater(failure)


# --- signatures -----------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The ``X-Smmpanel-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when `header` (the ``X-Smmpanel-Signature`` value) signs exactly `body`
    with `secret`.  Constant-time; pass the raw request body, before any parsing."""
    if not secret or not header:
        return False
    given = header.strip()
    if given[: len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
        return False
    given = SIGNATURE_PREFIX + given[len(SIGNATURE_PREFIX) :].lower()
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))
