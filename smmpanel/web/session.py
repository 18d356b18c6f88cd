"""The web session: a signed cookie (Starlette's SessionMiddleware) holding the
account id, the account's auth epoch at login, the CSRF token and the language
chosen before login.  Nothing secret is in it: it is signed, not encrypted."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from smmpanel.accounts.passwords import WebUser, session_user
from smmpanel.db import Database

USER = "uid"
EPOCH = "epoch"
LANGUAGE = "lang"
# A login whose password was right and whose two-factor code is still to come:
# the account id, its auth epoch and when (no login until the code is right).
CODE_PENDING = "code_pending"
CODE_PENDING_SECONDS = 300


class SessionHolder(Protocol):
    """Whoever a session logs in: a customer (WebUser) or a staff member."""

    @property
    def id(self) -> int: ...

    @property
    def auth_epoch(self) -> int: ...


def derived_secret(secret_key: str, purpose: str) -> str:
    """A key for one purpose (session cookies, CSRF tokens) from
    SMMPANEL_SECRET_KEY, so the stored secrets' key itself never signs cookies."""
    return hmac.new(
        secret_key.encode(), f"smmpanel web {purpose}".encode(), hashlib.sha256
    ).hexdigest()


async def current_user(request: Request, db: Database) -> WebUser | None:
    """The logged-in account, or None; a session whose epoch is stale (the
    password changed since) is cleared."""
    cached: WebUser | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    account_id, epoch = request.session.get(USER), request.session.get(EPOCH)
    if not isinstance(account_id, int) or not isinstance(epoch, int):
        return None
    user = await run_in_threadpool(session_user, db, account_id=account_id, auth_epoch=epoch)
    if user is None:
        log_out(request)
        return None
    request.state.user = user
    return user


def log_in(request: Request, user: WebUser) -> None:
    """A fresh session for the account (nothing of the anonymous one is kept
    but its language choice, so a planted session cannot be logged into)."""
    language = request.session.get(LANGUAGE)
    request.session.clear()
    request.session.update({USER: user.id, EPOCH: user.auth_epoch})
    if language:
        request.session[LANGUAGE] = language
    request.state.user = user


def log_out(request: Request) -> None:
    language = request.session.get(LANGUAGE)
    request.session.clear()
    if language:
        request.session[LANGUAGE] = language
    request.state.user = None


def await_code(request: Request, user: SessionHolder) -> None:
    """The password was right and the account (or staff member) uses two-factor
    codes: a fresh session holding "code pending" for a few minutes, and no
    login yet."""
    log_out(request)
    request.session[CODE_PENDING] = [user.id, user.auth_epoch, int(time.time())]


def pending_code_login(request: Request) -> tuple[int, int] | None:
    """(account id, auth epoch) of a login waiting for its code, unless it is
    missing, malformed or too old (then it is dropped)."""
    value = request.session.get(CODE_PENDING)
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(item, int) for item in value)
        and 0 <= time.time() - value[2] <= CODE_PENDING_SECONDS
    ):
        return value[0], value[1]
    request.session.pop(CODE_PENDING, None)
    return None
