"""Templates: one Jinja2 environment, autoescaping everything, with the i18n
extension (Starlette 1.x's Jinja2Templates takes it prebuilt, as `env=`)."""

from __future__ import annotations

from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates
from starlette_wtf import csrf_token

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
