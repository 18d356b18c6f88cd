"""The fake Stripe's HTTP API (a Starlette app over `FakeStripeState`); the
control and the runner are in stripe_fake.py, which documents both."""

from __future__ import annotations

import asyncio
import copy
import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]
API_VERSION = "2025-01-27.acacia"


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        body["code"] = code
    return JSONResponse({"error": body}, status_code=status)


class FakeStripeState:
    """Sessions, charges and events, behind one lock (the server's thread and
    the test's thread both use them)."""

    def __init__(self, api_key: str, webhook_secret: str) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.lock = threading.Lock()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # by payment intent id
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self.delay = 0.0  # seconds every API answer waits (a slow Stripe)


# --- the API ----------------------------------------------------------------------------


def _authorised(request: Request) -> bool:
    state: FakeStripeState = request.app.state.fake
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {state.api_key}".encode())


def _form_session(form: dict[str, str], base_url: str) -> dict[str, Any] | JSONResponse:
    """A new session from the create request's form, or Stripe's 400."""
    if form.get("mode") != "payment":
        return _error(400, "This fake takes mode=payment only", "parameter_invalid")
    item = "line_items[0]"
    for name in ("success_url", "cancel_url", f"{item}[price_data][currency]"):
        if not form.get(name):
            return _error(400, f"Missing required param: {name}.", "parameter_missing")
    try:
        unit_amount = int(form[f"{item}[price_data][unit_amount]"])
        quantity = int(form.get(f"{item}[quantity]", "1"))
    except (KeyError, ValueError):
        return _error(400, "Invalid integer: unit_amount", "parameter_invalid_integer")
    if unit_amount <= 0 or quantity <= 0 or "line_items[1][quantity]" in form:
        return _error(400, "This fake takes one line item of a positive amount")
    session_id = new_id("cs")
    metadata = {k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")}
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": unit_amount * quantity,
        "currency": form[f"{item}[price_data][currency]"],
        "client_reference_id": form.get("client_reference_id"),
        "metadata": metadata,
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": form["success_url"],
        "cancel_url": form["cancel_url"],
        "url": f"{base_url}/c/pay/{session_id}",
        "created": int(time.time()),
        "expires_at": int(time.time()) + 24 * 3600,
        "livemode": False,
    }


async def create_session(request: Request) -> Response:
    state: FakeStripeState = request.app.state.fake
    if not _authorised(request):
        return _error(401, "Invalid API Key provided")
    form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    session = _form_session(form, str(request.base_url).rstrip("/"))
    if isinstance(session, Response):
        return session
    with state.lock:
        state.requests.append(("POST", "/v1/checkout/sessions"))
        state.sessions[session["id"]] = session
        return JSONResponse(copy.deepcopy(session))


async def list_sessions(request: Request) -> Response:
    state: FakeStripeState = request.app.state.fake
    if not _authorised(request):
        return _error(401, "Invalid API Key provided")
    intent = request.query_params.get("payment_intent")
    limit = int(request.query_params.get("limit", "10"))
    with state.lock:
        state.requests.append(("GET", "/v1/checkout/sessions"))
        found = [
            copy.deepcopy(s)
            for s in state.sessions.values()
            if intent is None or s["payment_intent"] == intent
        ]
    return JSONResponse(
        {"object": "list", "data": found[:limit], "has_more": False, "url": "/v1/checkout/sessions"}
    )


async def retrieve_session(request: Request) -> Response:
    state: FakeStripeState = request.app.state.fake
    if not _authorised(request):
        return _error(401, "Invalid API Key provided")
    session_id = request.path_params["session_id"]
    with state.lock:
        state.requests.append(("GET", f"/v1/checkout/sessions/{session_id}"))
        session = copy.deepcopy(state.sessions.get(session_id))
    if session is None:
        return _error(404, f"No such checkout.session: '{session_id}'", "resource_missing")
    return JSONResponse(session)


async def retrieve_event(request: Request) -> Response:
    state: FakeStripeState = request.app.state.fake
    if not _authorised(request):
        return _error(401, "Invalid API Key provided")
    with state.lock:
        event = copy.deepcopy(state.events.get(request.path_params["event_id"]))
    if event is None:
        return _error(404, "No such event", "resource_missing")
    return JSONResponse(event)


async def payment_page(request: Request) -> Response:
    state: FakeStripeState = request.app.state.fake
    with state.lock:
        session = state.sessions.get(request.path_params["session_id"])
        text = "no such session" if session is None else f"{session['status']}"
    return HTMLResponse(f"<!doctype html><title>Fake Stripe Checkout</title><p>{text}</p>")


def _slow(handler: Handler) -> Handler:
    """`handler`, answering only after the state's delay."""

    async def slowed(request: Request) -> Response:
        state: FakeStripeState = request.app.state.fake
        if state.delay > 0:
            await asyncio.sleep(state.delay)
        return await handler(request)

    return slowed


def create_app(state: FakeStripeState) -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/checkout/sessions", _slow(create_session), methods=["POST"]),
            Route("/v1/checkout/sessions", _slow(list_sessions), methods=["GET"]),
            Route("/v1/checkout/sessions/{session_id}", _slow(retrieve_session), methods=["GET"]),
            Route("/v1/events/{event_id}", _slow(retrieve_event), methods=["GET"]),
            Route("/c/pay/{session_id}", payment_page, methods=["GET"]),
        ]
    )
    app.state.fake = state
    return app
