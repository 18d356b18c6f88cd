"""Templates: one Jinja2 environment, autoescaping everything, with the i18n
extension (Starlette 1.x's Jinja2Templates takes it prebuilt, as `env=`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette_wtf import csrf_token

from smmpanel.db import UNAVAILABLE_ERRORS
from smmpanel.money import format_units
from smmpanel.web import i18n


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("smmpanel.web", "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext_, i18n.ngettext_, newstyle=True
    )
    env.filters["money"] = format_units
    env.globals["csrf_token"] = form_token
    # For messages made at run time (errors): `_()` would %-format them.
    env.globals["translate"] = i18n.gettext_
    env.globals["LANGUAGE_NAMES"] = i18n.LANGUAGE_NAMES
    return Jinja2Templates(env=env)


def form_token(request: Request) -> str:
    """The CSRF token for a form of this page; empty on an error page rendered
    before the session and CSRF middleware ran (its forms are then refused)."""
    if "session" not in request.scope or not hasattr(request.state, "csrf_config"):
        return ""
    token: str = csrf_token(request)
    return token


def render(
    templates: Jinja2Templates,
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    page = {
        "user": getattr(request.state, "user", None),
        "language": i18n.current_language(),
        "panel_name": getattr(request.state, "panel_name", "smmpanel"),
        "logo_version": getattr(request.state, "logo_version", None),
        "signup_open": getattr(request.state, "signup_open", False),
        "public_services": getattr(request.state, "public_services", False),
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, page, status_code=status_code)
    # Pages carry a CSRF token and personal data: never kept by shared caches.
    response.headers["cache-control"] = "no-store"
    return response


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def error_pages(
    templates: Jinja2Templates,
    template: str,
    log: logging.Logger,
    context: Callable[[Request], dict[str, Any]] = lambda _request: {},
) -> dict[Any, ErrorHandler]:
    """The exception handlers of a set of pages (the shop's, the admin's): an
    HTTPException as `template` with its status (a 303 carrying a location as
    the redirect), a busy database as 503, anything else as 500 and a log line
    with the traceback; `context` adds what the page's layout needs."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in (302, 303) and exc.headers:
            return RedirectResponse(exc.headers["location"], status_code=exc.status_code)
        details = {"status": exc.status_code, "detail": exc.detail, **context(request)}
        return render(templates, request, template, details, status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        path = request.url.path[:200]
        if isinstance(exc, UNAVAILABLE_ERRORS):
            # Busy or unreachable database: nothing was done, trying again may work.
            log.warning("database unavailable on page %s: %s", path, type(exc))
            status, detail = 503, "The panel is busy; try again in a moment."
        else:
            log.exception("unhandled error on page %s", path, exc_info=exc)
            status, detail = 500, "Something went wrong on our side."
        details = {"status": status, "detail": detail, **context(request)}
        return render(templates, request, template, details, status_code=status)

    return {HTTPException: http_error, Exception: server_error}
