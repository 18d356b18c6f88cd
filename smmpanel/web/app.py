"""The web app: its own Starlette app, mounted at / beside /api/v2, so that the
session, CSRF and header middleware run for pages only and an /api/v2 call
never passes through them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette_wtf import CSRFProtectMiddleware

from smmpanel.accounts.passwords import Throttle
from smmpanel.accounts.reset_mail import ResetLimits
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.mailer import smtp_configured
from smmpanel.panel.settings import get_setting
from smmpanel.panel.site import logo_version
from smmpanel.web import (
    i18n,
    pages_account,
    pages_api,
    pages_deposits,
    pages_funds,
    pages_orders,
    pages_public,
    pages_reset,
    pages_tickets,
    pages_two_factor,
)
from smmpanel.web.guard import CSRF_FIELD, CSRF_TIME_LIMIT, SecurityHeaders
from smmpanel.web.links import public_url
from smmpanel.web.rendering import build_templates, error_pages
from smmpanel.web.session import LANGUAGE, current_user, derived_secret

log = logging.getLogger("smmpanel.web")
STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "smmpanel_session"
SESSION_DAYS = 14


@dataclass(frozen=True)
class WebContext:
    """What every page handler needs, kept on the app's state."""

    db: Database
    throttle: Throttle
    public_url: str


@dataclass(frozen=True)
class ResetMail:
    """Whether "Forgot your password?" mails links, and its limits."""

    smtp_on: bool
    limits: ResetLimits


class PageSetup:
    """Per page request, before its handler: the panel's texts and switches, the
    logged-in account (its session checked against its auth epoch) and the
    language.  Static files skip it."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        name, signup, public, logo = await run_in_threadpool(_panel_texts, self.db)
        request.state.panel_name = name
        request.state.signup_open = signup == "on"
        request.state.public_services = public == "on"
        request.state.logo_version = logo
        user = await current_user(request, self.db)
        chosen = request.session.get(LANGUAGE)
        i18n.use_language(
            (user.language if user else None)
            or (chosen if isinstance(chosen, str) else None)
            or i18n.from_accept_language(request.headers.get("accept-language"))
            or i18n.DEFAULT
        )
        await self.app(scope, receive, send)


def _panel_texts(db: Database) -> tuple[str, str, str, str | None]:
    with db.read() as session:
        return (
            get_setting(session, "panel_name"),
            get_setting(session, "signup"),
            get_setting(session, "public_services"),
            logo_version(session),
        )


def create_web_app(db: Database, settings: Settings) -> Starlette:
    """The pages over `db`; SMMPANEL_SECRET_KEY signs their session cookies and
    CSRF tokens (through keys derived from it)."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        raise ValueError("the web pages need SMMPANEL_SECRET_KEY (smmpanel secrets new-key)")
    secret = settings.secret_key.get_secret_value()
    templates = build_templates()
    routes: list[BaseRoute] = [
        *pages_public.routes(),
        *pages_account.routes(),
        *pages_orders.routes(),
        *pages_funds.routes(),
        *pages_deposits.routes(),
        *pages_api.routes(),
        *pages_tickets.routes(),
        *pages_two_factor.routes(),
        *pages_reset.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=derived_secret(secret, "session"),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_DAYS * 24 * 3600,
                same_site="lax",
                https_only=settings.web_https_only,
            ),
            Middleware(
                CSRFProtectMiddleware,
                csrf_secret=derived_secret(secret, "csrf"),
                csrf_field_name=CSRF_FIELD,
                csrf_time_limit=CSRF_TIME_LIMIT,
            ),
            Middleware(PageSetup, db=db),
        ],
        exception_handlers=error_pages(templates, "error.html", log),
    )
    app.router.redirect_slashes = False
    app.state.web = WebContext(
        db=db,
        throttle=Throttle(
            per_ip=settings.login_failures_per_ip, per_user=settings.login_failures_per_user
        ),
        public_url=public_url(settings),
    )
    app.state.templates = templates
    app.state.settings = settings  # the payment pages read the demo switch and limits
    app.state.reset_mail = ResetMail(
        smtp_on=smtp_configured(settings),
        limits=ResetLimits(
            per_ip=settings.reset_requests_per_ip,
            per_account=settings.reset_requests_per_account,
        ),
    )
    return app
