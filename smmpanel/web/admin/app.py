"""The admin app, mounted at /admin beside the customers' pages: its own
session cookie (path /admin, SameSite=Strict), the same CSRF checks, security
headers, templates and languages as the shop."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette_wtf import CSRFProtectMiddleware

from smmpanel.accounts.passwords import Throttle
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.panel.settings import get_setting
from smmpanel.web import i18n
from smmpanel.web.admin import (
    pages_audit,
    pages_catalog,
    pages_customers,
    pages_home,
    pages_login,
    pages_orders,
    pages_providers,
    pages_queues,
    pages_settings,
    pages_tickets,
)
from smmpanel.web.admin.access import AdminContext, current_staff, shell_context
from smmpanel.web.guard import CSRF_FIELD, CSRF_TIME_LIMIT, SecurityHeaders
from smmpanel.web.links import public_url
from smmpanel.web.rendering import build_templates, error_pages
from smmpanel.web.session import derived_secret

log = logging.getLogger("smmpanel.admin")
SESSION_COOKIE = "smmpanel_admin"
# Staff sessions are shorter than customers' (14 days): they can move money.
SESSION_HOURS = 12


class AdminSetup:
    """Per request: the panel's name, the staff member of the session (checked
    against their auth epoch) and the language of the browser."""

    def __init__(self, app: ASGIApp, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        request.state.panel_name = await run_in_threadpool(_panel_name, self.db)
        request.state.staff = await current_staff(request, self.db)
        i18n.use_language(
            i18n.from_accept_language(request.headers.get("accept-language")) or i18n.DEFAULT
        )
        await self.app(scope, receive, send)


def _panel_name(db: Database) -> str:
    with db.read() as session:
        return get_setting(session, "panel_name")


def create_admin_app(db: Database, settings: Settings) -> Starlette:
    """The admin pages over `db`, to be mounted at /admin."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        raise ValueError("the admin pages need SMMPANEL_SECRET_KEY (smmpanel secrets new-key)")
    secret = settings.secret_key.get_secret_value()
    templates = build_templates()
    # One module a section of the menu (admin/base.html), each with its routes.
    sections = (
        pages_login,
        pages_home,
        pages_customers,
        pages_orders,
        pages_queues,
        pages_catalog,
        pages_providers,
        pages_tickets,
        pages_settings,
        pages_audit,
    )
    routes: list[BaseRoute] = [route for section in sections for route in section.routes()]

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=derived_secret(secret, "admin session"),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_HOURS * 3600,
                path="/admin",
                same_site="strict",
                https_only=settings.web_https_only,
            ),
            Middleware(
                CSRFProtectMiddleware,
                csrf_secret=derived_secret(secret, "admin csrf"),
                csrf_field_name=CSRF_FIELD,
                csrf_time_limit=CSRF_TIME_LIMIT,
            ),
            Middleware(AdminSetup, db=db),
        ],
        exception_handlers=error_pages(templates, "admin/error.html", log, shell_context),
    )
    app.router.redirect_slashes = False
    app.state.admin = AdminContext(
        db=db,
        throttle=Throttle(
            per_ip=settings.login_failures_per_ip, per_user=settings.login_failures_per_user
        ),
        two_factor_required=settings.staff_two_factor,
    )
    app.state.templates = templates
    # Links staff hand out (a customer's password reset) are on the customers' address.
    app.state.public_url = public_url(settings)
    return app
