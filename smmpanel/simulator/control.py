"""`/_sim/...`: records and control endpoints (JSON, protected by the API key as `key`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from smmpanel.simulator.faults import FAULT_KINDS, FaultError, parse_fault_spec, rule_from_mapping
from smmpanel.simulator.models import (
    CANCEL_STATUSES,
    ORDER_STATUSES,
    REFILL_STATUSES,
    money_str,
)
from smmpanel.simulator.state import SimState

Handler = Callable[[SimState, dict[str, Any]], Any]


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params.multi_items())
    raw = (await request.body()).decode("utf-8", errors="replace").strip()
    if raw:
        if raw.startswith("{"):
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise ControlError("malformed JSON") from exc
        else:
            body = dict(parse_qsl(raw, keep_blank_values=True))
        if not isinstance(body, dict):
            raise ControlError("the body must be a JSON object")
        params.update(body)
    return params


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sim: SimState = request.app.state.sim
        try:
            params = await _params(request)
            given = str(params.pop("key", ""))
            if not given or not secrets.compare_digest(given.encode(), sim.config.key.encode()):
                raise ControlError("Invalid API key", 403)
            if handler is reset:
                request.app.state.sim = sim = SimState(sim.config)
            return JSONResponse(handler(sim, params))
        except ControlError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except (FaultError, ValueError, TypeError, InvalidOperation) as exc:
            return JSONResponse({"error": str(exc) or type(exc).__name__}, status_code=400)

    return endpoint


def _int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ControlError(f"{name} must be an integer") from exc


def orders(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for name in ("link", "status", "request_id", "kind"):
        if params.get(name) not in (None, ""):
            filters[name] = str(params[name])
    for name in ("service", "parent"):
        number = _int(params, name)
        if number is not None:
            filters[name] = number
    records = sim.records(**filters)
    return {"count": len(records), "orders": records}


def refills(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    records = sim.refill_records()
    return {"count": len(records), "refills": records}


def cancels(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    records = sim.cancel_records()
    return {"count": len(records), "cancels": records}


def list_faults(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    return {"faults": sim.faults.list()}


def set_faults(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    """`clear`: true (all) or a kind; `clear_id`: one rule; `add`: a rule, a spec string,
    or a list of them; `set`: like `add` after clearing everything."""
    clear = params.get("clear")
    if "set" in params:
        clear, params["add"] = True, params["set"]
    removed = 0
    if clear not in (None, False, "", "0", "false"):
        kind = None if clear in (True, "1", "true", "all") else str(clear)
        if kind is not None and kind not in FAULT_KINDS:
            raise ControlError(f"unknown fault kind {kind!r}")
        removed += sim.faults.clear(kind=kind)
    clear_id = _int(params, "clear_id")
    if clear_id is not None:
        removed += sim.faults.clear(rule_id=clear_id)
    items = params.get("add", [])
    added = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, str):
            rule = parse_fault_spec(item)
        elif isinstance(item, dict):
            rule = rule_from_mapping(item)
        else:
            raise ControlError("a fault is a spec string or an object")
        added.append(sim.faults.add(rule))
    return {"added": added, "removed": removed, "faults": sim.faults.list()}


def advance(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    try:
        seconds = float(params.get("seconds", 0))
    except (TypeError, ValueError) as exc:
        raise ControlError("seconds must be a number") from exc
    if seconds < 0:
        raise ControlError("seconds must be >= 0")
    return {"now": sim.advance(seconds)}


def set_status(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    status = params.get("status")
    for name, allowed, setter in (
        ("refill", REFILL_STATUSES, sim.set_refill),
        ("cancel", CANCEL_STATUSES, sim.set_cancel),
    ):
        record_id = _int(params, name)
        if record_id is None:
            continue
        if status not in allowed:
            raise ControlError(f"{name} status must be one of {', '.join(allowed)}")
        try:
            return {name: setter(record_id, str(status)).record()}
        except KeyError as exc:
            raise ControlError(f"no {name} {record_id}", 404) from exc
    order_id = _int(params, "order")
    if order_id is None:
        raise ControlError("give order, refill or cancel")
    if status is not None and status not in ORDER_STATUSES:
        raise ControlError(f"order status must be one of {', '.join(ORDER_STATUSES)}")
    try:
        order = sim.set_order(
            order_id,
            status=None if status is None else str(status),
            remains=_int(params, "remains"),
            start_count=_int(params, "start_count"),
        )
    except KeyError as exc:
        raise ControlError(f"no order {order_id}", 404) from exc
    return {"order": order.record(sim.clock.wall(order.created).isoformat())}


def balance(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    if "balance" in params:
        sim.set_balance(Decimal(str(params["balance"])))
    with sim.lock:
        return {"balance": money_str(sim.balance), "currency": sim.config.currency}


def catalog(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    """`reset`: restore the built-in catalog; `remove`: a service id (or list);
    `service` + fields (`rate`, `min`, `max`, `name`, ...): change or add a service."""
    if params.get("reset") not in (None, False, "", "0", "false"):
        sim.reset_catalog()
    remove = params.get("remove")
    for item in remove if isinstance(remove, list) else ([remove] if remove else []):
        try:
            sim.remove_service(int(item))
        except KeyError as exc:
            raise ControlError(f"no service {item}", 404) from exc
    service_id = _int(params, "service")
    if service_id is not None:
        changes = {k: v for k, v in params.items() if k not in ("service", "remove", "reset")}
        try:
            sim.update_service(service_id, **changes)
        except TypeError as exc:
            raise ControlError("a new service needs every field") from exc
    return {"services": [s.to_api() for s in sim.services()]}


def show_balance(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    return balance(sim, {})


def show_catalog(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    return catalog(sim, {})


def stats(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    return sim.stats()


def reset_stats(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    sim.reset_stats()
    return sim.stats()


def per_link(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    return {"links": sim.orders_per_link()}


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def reset(sim: SimState, params: dict[str, Any]) -> dict[str, Any]:
    """Start afresh from the start-up configuration (the swap happens in the endpoint)."""
    return sim.stats()


def control_routes() -> list[BaseRoute]:
    get = [
        ("orders", orders),
        ("refills", refills),
        ("cancels", cancels),
        ("faults", list_faults),
        ("stats", stats),
        ("links", per_link),
        ("balance", show_balance),
        ("catalog", show_catalog),
    ]
    post = [
        # Readable by POST too: a panel's reconciliation sends its key in the body.
        ("orders", orders),
        ("faults", set_faults),
        ("advance", advance),
        ("set_status", set_status),
        ("balance", balance),
        ("catalog", catalog),
        ("stats/reset", reset_stats),
        ("reset", reset),
    ]
    routes: list[BaseRoute] = [Route("/_sim/health", health, methods=["GET"])]
    routes += [Route(f"/_sim/{n}", _endpoint(h), methods=["GET"]) for n, h in get]
    routes += [Route(f"/_sim/{n}", _endpoint(h), methods=["POST"]) for n, h in post]
    return routes
