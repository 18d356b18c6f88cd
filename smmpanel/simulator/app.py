"""The Starlette application: `/api/v2` plus the `/_sim/...` control endpoints."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from smmpanel.simulator import protocol
from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.control import control_routes
from smmpanel.simulator.faults import NO_FUNDS_MESSAGES, REFUSE_MESSAGES, FaultRule, with_defaults
from smmpanel.simulator.state import SimState
from smmpanel.simulator.validation import INCORRECT_REQUEST, parse_int

MAX_BODY = 1024 * 1024
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
GATEWAY_TIMEOUT_HTML = BAD_GATEWAY_HTML.replace("502 Bad Gateway", "504 Gateway Time-out")


class BadRequest(Exception):
    """A body that cannot be parsed."""


def _flatten(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(_flatten(v) for v in value)
    if value is None:
        return ""
    return str(value)


async def read_body(request: Request) -> tuple[dict[str, Any], bytes]:
    """The body as a dict (JSON object or form-urlencoded) and the raw bytes."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest("body too large")
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return {}, raw
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadRequest("malformed JSON") from exc
        if not isinstance(data, dict):
            raise BadRequest("JSON body must be an object")
        return data, raw
    return dict(parse_qsl(text, keep_blank_values=True)), raw


async def api_params(request: Request) -> dict[str, str]:
    """Query string and body parameters merged (the body wins), all as strings."""
    params = {k: v for k, v in request.query_params.multi_items()}
    body, _ = await read_body(request)
    params.update({str(k): _flatten(v) for k, v in body.items()})
    return params


async def hold(closing: threading.Event, seconds: float) -> None:
    """Sleep, but wake up early when the server is shutting down."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not closing.is_set():
        left = deadline - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.05))


def _json(value: Any) -> Response:
    return JSONResponse(value)


def garbage(rule: FaultRule, answer: Any) -> Response:
    """An unreadable answer: nginx's 502 page, an empty body, or truncated JSON."""
    variant = rule.variant or "html"
    if variant == "empty":
        return Response(b"", status_code=200, media_type="application/json")
    if variant == "truncated":
        text = json.dumps(answer if answer is not None else {"order": 0})
        return Response(text[: max(1, len(text) // 2)], media_type="application/json")
    return HTMLResponse(BAD_GATEWAY_HTML, status_code=502)


def create_app(
    config: SimulatorConfig | None = None, *, state: SimState | None = None
) -> Starlette:
    """Build the simulator app.

    `app.state.sim` is the live SimState (replace it to start afresh; `/_sim/reset` does);
    `app.state.closing` a threading.Event that, once set, releases held answers at once.
    """
    initial = state if state is not None else SimState(config or SimulatorConfig())
    closing = threading.Event()

    async def api(request: Request) -> Response:
        sim: SimState = request.app.state.sim
        try:
            params = await api_params(request)
        except BadRequest as exc:
            sim.count("malformed")
            status = 413 if str(exc) == "body too large" else 200
            return JSONResponse({"error": INCORRECT_REQUEST}, status_code=status)
        action = protocol.count_request(sim, params)
        if action == "invalid_key":
            return _json({"error": protocol.INVALID_KEY})
        service = parse_int(params.get("service")) if action == "add" else None
        decision = sim.faults.decide(action, service)
        request_id = request.headers.get("idempotency-key")

        def answer() -> Any:
            return protocol.handle(sim, params, decision, request_id)

        if decision.slow is not None:
            await hold(closing, with_defaults(decision.slow).seconds or 0.0)
        rule = decision.answer
        if rule is None:
            return _json(answer())
        if rule.kind == "refuse":
            return _json({"error": rule.error or REFUSE_MESSAGES[rule.variant or "service"]})
        if rule.kind == "no_funds":
            return _json({"error": NO_FUNDS_MESSAGES[rule.variant or "key"]})
        if rule.kind == "timeout":
            rule = with_defaults(rule)
            dropped = (rule.variant or "hold") == "drop"
            result = None if dropped else answer()
            await hold(closing, rule.seconds or 0.0)
            if dropped:
                return HTMLResponse(GATEWAY_TIMEOUT_HTML, status_code=504)
            return _json(result)
        # unreadable
        return garbage(rule, answer() if rule.record else None)

    app = Starlette(routes=[Route("/api/v2", api, methods=["GET", "POST"]), *control_routes()])
    app.state.sim = initial
    app.state.closing = closing
    return app
