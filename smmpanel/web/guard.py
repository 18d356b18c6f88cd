"""What every page request passes through: CSRF checks on form posts, and the
security headers of every answer."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from python_multipart.exceptions import FormParserError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_wtf.util import validate_csrf
from wtforms import ValidationError

CSRF_FIELD = "csrf_token"
# A form left open longer than this is refused on posting (reload the page).
CSRF_TIME_LIMIT = 12 * 3600
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Only the panel's own files: no inline script, nothing from another host.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

Endpoint = Callable[[Request], Awaitable[Response]]


def csrf_protected(endpoint: Endpoint) -> Endpoint:
    """Form posts must be forms and carry the session's CSRF token (403 without
    it); a body that cannot be parsed is a 400, never a 500."""

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if request.method == "POST":
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            # No type at all: an empty post, which carries no token either (403 below).
            if kind and kind not in FORM_TYPES:
                raise HTTPException(400, "a page takes form posts only")
            try:
                form = await request.form()
            except (MultiPartException, FormParserError, UnicodeDecodeError, ValueError) as exc:
                raise HTTPException(400, "the form could not be read") from exc
            token = form.get(CSRF_FIELD)
            config = request.state.csrf_config
            try:
                validate_csrf(
                    request,
                    token if isinstance(token, str) else "",
                    secret_key=config["csrf_secret"],
                    field_name=CSRF_FIELD,
                    time_limit=CSRF_TIME_LIMIT,
                )
            except ValidationError as exc:
                raise HTTPException(403, "the form's security token is missing or stale") from exc
            request.state.csrf_valid = True  # the form's own check is done
        return await endpoint(request)

    return checked


class SecurityHeaders:
    """Content-Security-Policy and friends on every answer of the pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", CSP)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, with_headers)
