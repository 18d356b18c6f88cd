"""The answers of the HTTP edge that are not an action's: every one is JSON.

Refusals of an action are HTTP 200 with {"error": ...} (clients look at the
body, not the status).  Other codes are kept for what is not an action's
answer: 404 (another path), 405 (a method other than GET and POST), 413 (a body
too large), 503 (the database is busy or unreachable) and 500 (a bug).
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

ALLOWED_METHODS = "GET, POST"
UNAVAILABLE = "Service temporarily unavailable"


class JSONAnswer(Response):
    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200, **kwargs: Any) -> None:
        # Kept for what runs after the answer (the rate limits count wrong keys).
        self.answer = content
        super().__init__(content, status_code, **kwargs)

    def render(self, content: Any) -> bytes:
        # bytes: an answer already rendered (by render_json: the kept `services`).
        return content if isinstance(content, bytes) else render_json(content)


def render_json(content: Any) -> bytes:
    """An answer as its bytes: compact, UTF-8 (not \\u escapes)."""
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def method_not_allowed() -> JSONAnswer:
    return JSONAnswer(
        {"error": "Method not allowed: use GET or POST"},
        status_code=405,
        headers={"Allow": ALLOWED_METHODS},
    )


def body_too_large() -> JSONAnswer:
    # Closing the connection stops the upload; kept open, uvicorn would read
    # (and drop) the rest of a 200 MB body.
    return JSONAnswer(
        {"error": "Request body too large"}, status_code=413, headers={"Connection": "close"}
    )


def database_unavailable(retry_after: float) -> JSONAnswer:
    """The database did not answer in time (busy, unreachable, read-only or full):
    the call was refused before anything was written, or rolled back."""
    return _unavailable(
        "The database is busy or unreachable; nothing was done. Try again later.", retry_after
    )


def outcome_unknown(retry_after: float) -> JSONAnswer:
    """The connection broke while the transaction was being committed."""
    return _unavailable(
        "The connection to the database broke while the request was being saved: it may or "
        "may not have been done. Check (status, balance) before sending it again; an add "
        "sent again with the same request_id is never placed twice.",
        retry_after,
    )


def _unavailable(detail: str, retry_after: float) -> JSONAnswer:
    return JSONAnswer(
        {"error": UNAVAILABLE, "detail": detail},
        status_code=503,
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


def server_error() -> JSONAnswer:
    return JSONAnswer({"error": "Internal server error"}, status_code=500)


async def http_error(_request: Request, error: Exception) -> Response:
    """Starlette's own refusals (no route: 404; a method the route lacks: 405) as JSON."""
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return JSONAnswer({"error": "Not found"}, status_code=404)
    if error.status_code == 405:
        return JSONAnswer(
            {"error": "Method not allowed"}, status_code=405, headers=dict(error.headers or {})
        )
    return JSONAnswer({"error": error.detail}, status_code=error.status_code)


async def unhandled_error(_request: Request, _error: Exception) -> Response:
    """The last resort of an error no handler caught (uvicorn logs its traceback)."""
    return server_error()
