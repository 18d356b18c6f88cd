"""Helpers every page handler uses."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import Form

from smmpanel.accounts.passwords import WebUser
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.web import i18n
from smmpanel.web.rendering import render


def db_of(request: Request) -> Database:
    db: Database = request.app.state.web.db
    return db


def user_of(request: Request) -> WebUser | None:
    user: WebUser | None = getattr(request.state, "user", None)
    return user


def require_user(request: Request) -> WebUser:
    """The logged-in account; a visitor is sent to the login page (as an
    HTTPException carrying the redirect, so handlers stay straight-line)."""
    user = user_of(request)
    if user is None:
        raise HTTPException(303, headers={"location": "/login"})
    return user


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    return render(request.app.state.templates, request, name, context, status_code=status_code)


def redirect(path: str) -> Response:
    """After a successful post: see the result with a GET (no re-post on reload)."""
    return RedirectResponse(path, status_code=303)


def local_path(value: str | None, default: str = "/") -> str:
    """`value` when it is a path on this site, else `default`: a form's "back"
    field must not send anyone elsewhere."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    # Browsers drop tabs and newlines from URLs: "/\t/evil.example" would be "//evil.example".
    if any(char.isspace() or not char.isprintable() for char in value):
        return default
    return value[:500]


def refusal_text(exc: DomainError) -> str:
    """A domain refusal in the page's language."""
    return i18n.gettext_(str(exc))


def show_refusal(form: Form, exc: DomainError) -> None:
    """A domain refusal shown above the form, in the page's language."""
    form.form_errors.append(refusal_text(exc))
