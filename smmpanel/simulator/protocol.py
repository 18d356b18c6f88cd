"""API v2 actions: parameters in, the exact response shapes of docs/api.md out.

Dialect quirks (a fault kind) change the formatting only, never the state.
"""

from __future__ import annotations

import secrets
from typing import Any

from smmpanel.simulator.engine import INCORRECT_ORDER
from smmpanel.simulator.faults import FaultDecision
from smmpanel.simulator.models import CANCELED, OrderView, money_str
from smmpanel.simulator.state import SimState
from smmpanel.simulator.validation import INCORRECT_REQUEST, ApiError, parse_int

INVALID_KEY = "Invalid API key"
TOO_MANY_IDS = "Too many IDs (max 100)"
REFILL_NOT_FOUND = "Refill not found"
CANCEL_NOT_FOUND = "Cancel not found"
MAX_IDS = 100
ACTIONS = ("services", "add", "status", "refill", "refill_status", "cancel", "balance")
_MULTI_PARAMS = ("orders", "refills", "cancels")


def split_ids(value: str) -> list[str]:
    """`"1, 2,3"` -> `["1", "2", "3"]` (empty items dropped, duplicates kept once)."""
    seen: dict[str, None] = {}
    for token in value.split(","):
        token = token.strip()
        if token:
            seen.setdefault(token, None)
    return list(seen)


def key_ok(state: SimState, params: dict[str, str]) -> bool:
    given = params.get("key", "").strip()
    return bool(given) and secrets.compare_digest(given.encode(), state.config.key.encode())


def action_of(params: dict[str, str]) -> str:
    return params.get("action", "").strip().lower()


def count_request(state: SimState, params: dict[str, str]) -> str:
    """Record the request in the statistics; returns the name it was counted under."""
    if not key_ok(state, params):
        name = "invalid_key"
    else:
        action = action_of(params)
        name = action if action in ACTIONS else "unknown"
    ids = sum(len(split_ids(params[p])) for p in _MULTI_PARAMS if p in params)
    state.count(name, ids)
    return name


def handle(
    state: SimState,
    params: dict[str, str],
    decision: FaultDecision | None = None,
    request_id: str | None = None,
) -> Any:
    """Answer one API v2 call (the JSON value to send)."""
    decision = decision or FaultDecision()
    if not key_ok(state, params):
        return {"error": INVALID_KEY}
    action = action_of(params)
    try:
        if action == "services":
            lower = decision.quirk("lowercase_types")
            return [s.to_api(lowercase_type=lower) for s in state.services()]
        if action == "balance":
            with state.lock:
                return {"balance": money_str(state.balance), "currency": state.config.currency}
        if action == "add":
            return _add(state, params, decision, request_id)
        if action == "status":
            return _status(state, params, decision)
        if action == "refill":
            return _refill(state, params)
        if action == "refill_status":
            return _refill_status(state, params)
        if action == "cancel":
            return _cancel(state, params)
    except ApiError as exc:
        return {"error": exc.message}
    return {"error": INCORRECT_REQUEST}


def _ids(params: dict[str, str], name: str) -> list[str]:
    ids = split_ids(params[name])
    if not ids:
        raise ApiError(INCORRECT_REQUEST)
    if len(ids) > MAX_IDS:
        raise ApiError(TOO_MANY_IDS)
    return ids


def _single(params: dict[str, str], name: str) -> int | None:
    if not params.get(name, "").strip():
        raise ApiError(INCORRECT_REQUEST)
    return parse_int(params[name])


def _add(
    state: SimState, params: dict[str, str], decision: FaultDecision, request_id: str | None
) -> dict[str, Any]:
    request_id = params.get("request_id", "").strip() or request_id
    order_id = state.add(params, request_id=request_id, outcome=decision.outcome)
    answer: dict[str, Any] = {"order": order_id}
    if decision.quirk("success_key"):
        answer["status"] = "success"
    return answer


def format_view(view: OrderView, decision: FaultDecision) -> dict[str, Any]:
    status = view.status
    if status == CANCELED and decision.quirk("cancelled"):
        status = "Cancelled"
    answer: dict[str, Any]
    if decision.quirk("numbers"):
        answer = {
            "charge": float(money_str(view.charge)),
            "start_count": view.start_count,
            "status": status,
            "remains": view.remains,
        }
    else:
        answer = {
            "charge": money_str(view.charge),
            "start_count": str(view.start_count),
            "status": status,
            "remains": str(view.remains),
        }
    if decision.quirk("unknown_remains") and view.id % 3 == 0:
        answer["remains"] = "Unknown"
    answer["currency"] = view.currency
    if view.children is not None:
        answer["orders"] = list(view.children)
    return answer


def _status(state: SimState, params: dict[str, str], decision: FaultDecision) -> Any:
    if "orders" in params:
        tokens = _ids(params, "orders")
        views = state.statuses([parse_int(t) for t in tokens])
        result: dict[str, Any] = {}
        for token, view in zip(tokens, views, strict=True):
            if view is not None:
                result[token] = format_view(view, decision)
            elif decision.quirk("bare_errors"):
                result[token] = INCORRECT_ORDER
            else:
                result[token] = {"error": INCORRECT_ORDER}
        return result
    view = state.status(_single(params, "order"))
    if view is None:
        raise ApiError(INCORRECT_ORDER)
    return format_view(view, decision)


def _id_or_token(token: str) -> int | str:
    number = parse_int(token)
    return number if number is not None else token


def _refill(state: SimState, params: dict[str, str]) -> Any:
    if "orders" in params:
        result: list[dict[str, Any]] = []
        for token in _ids(params, "orders"):
            entry: dict[str, Any] = {"order": _id_or_token(token)}
            try:
                entry["refill"] = state.refill(parse_int(token))
            except ApiError as exc:
                entry["refill"] = {"error": exc.message}
            result.append(entry)
        return result
    return {"refill": str(state.refill(_single(params, "order")))}


def _refill_status(state: SimState, params: dict[str, str]) -> Any:
    if "refills" in params:
        result: list[dict[str, Any]] = []
        for token in _ids(params, "refills"):
            status = state.refill_status(parse_int(token))
            shown: Any = status if status is not None else {"error": REFILL_NOT_FOUND}
            result.append({"refill": _id_or_token(token), "status": shown})
        return result
    status = state.refill_status(_single(params, "refill"))
    if status is None:
        raise ApiError(REFILL_NOT_FOUND)
    return {"status": status}


def _cancel(state: SimState, params: dict[str, str]) -> Any:
    result: list[dict[str, Any]] = []
    if "cancels" in params:
        for token in _ids(params, "cancels"):
            status = state.cancel_status(parse_int(token))
            shown: Any = status if status is not None else {"error": CANCEL_NOT_FOUND}
            result.append({"cancel": _id_or_token(token), "status": shown})
        return result
    if "orders" in params:
        tokens = _ids(params, "orders")
    else:
        _single(params, "order")
        tokens = [params["order"].strip()]
    for token in tokens:
        order_id = parse_int(token)
        entry: dict[str, Any] = {"order": _id_or_token(token), "type": state.order_kind(order_id)}
        try:
            entry["cancel"] = state.cancel(order_id)
        except ApiError as exc:
            entry["cancel"] = {"error": exc.message}
        result.append(entry)
    return result
