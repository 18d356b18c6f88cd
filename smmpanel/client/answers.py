"""Parsers of whole answers, tolerant of the dialects other panels answer in.

Import them from :mod:`smmpanel.client.dialect`, which re-exports them.

The per-id parsers (``parse_order_statuses`` and friends) take the decoded
answer and the ids that were asked for, and give one result per id in the
order asked. They read

- objects keyed by the id (``{"1": {...}, "10": {"error": "..."}}``), with
  extra keys such as ``"status": "success"`` ignored;
- arrays of entries that name their id (``[{"order": 1, "refill": 1}]``);
- a single entry not wrapped at all (``{"refill": "1"}``) when one id was
  asked for;
- per-id errors as objects (``{"error": "..."}``) or as bare strings
  (``{"2": "Incorrect order ID"}``).

An id the answer says nothing about gets an :class:`ItemError` with code
``missing``; an entry that cannot be read gets code ``unreadable``: one
strange entry does not spoil the other 99. A whole answer that cannot be read
raises :class:`ValueError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from .dialect import (
    answer_error,
    cancel_status,
    clean_key,
    error_code,
    make_error,
    order_status,
    parse_bool,
    parse_decimal,
    parse_id,
    parse_int,
    parse_optional_decimal,
    parse_optional_int,
    refill_status,
    service_type,
)
from .models import (
    Balance,
    CancelResult,
    CancelStatusResult,
    ItemError,
    OrderStatusResult,
    PlacedOrder,
    RefillResult,
    RefillStatusResult,
    Service,
)

__all__ = [
    "parse_balance",
    "parse_cancel_statuses",
    "parse_cancels",
    "parse_order_statuses",
    "parse_placed_order",
    "parse_refill_statuses",
    "parse_refills",
    "parse_service",
    "parse_services",
]

log = logging.getLogger("smmpanel.client")

T = TypeVar("T")
S = TypeVar("S")
_MISSING: Any = object()


# -- single answers ----------------------------------------------------------


def parse_services(data: object) -> list[Service]:
    """The ``services`` answer: an array (or an object of entries, or ``{"services": [...]}``).

    An entry that cannot be read is left out with a warning in the log; an
    answer where no entry can be read raises :class:`ValueError`.
    """
    if isinstance(data, Mapping):
        for key in ("services", "data", "result"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            if data and all(isinstance(value, Mapping) for value in data.values()):
                data = list(data.values())
    if not isinstance(data, list):
        raise ValueError("the services answer is not a list")
    services: list[Service] = []
    for entry in data:
        try:
            services.append(parse_service(entry))
        except ValueError as exc:
            log.warning("skipping a service entry that cannot be read: %s", exc)
    if data and not services:
        raise ValueError("no entry of the services answer can be read")
    return services


def parse_service(entry: object) -> Service:
    """One entry of the services list; bracketed notes in key names are ignored."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"not a service entry: {entry!r:.80}")
    fields = {clean_key(str(key)): value for key, value in entry.items()}
    ident = fields.get("service", fields.get("id"))
    try:
        description = fields.get("description", fields.get("desc"))
        return Service(
            service=parse_id(ident),
            name=_text(fields.get("name")) or "",
            type=service_type(fields.get("type")),
            rate=parse_decimal(fields.get("rate", fields.get("price"))),
            min=parse_int(fields.get("min")),
            max=parse_int(fields.get("max")),
            dripfeed=parse_bool(fields.get("dripfeed")),
            refill=parse_bool(fields.get("refill")),
            cancel=parse_bool(fields.get("cancel")),
            category=_text(fields.get("category")) or "",
            description=description if isinstance(description, str) else None,
            raw=dict(entry),
        )
    except ValueError as exc:
        raise ValueError(f"service {ident!r}: {exc}") from None


def parse_placed_order(data: object) -> PlacedOrder:
    """The ``add`` answer: ``{"order": 23501}`` (also a string, or ``order_id``)."""
    if not isinstance(data, Mapping):
        raise ValueError("the add answer is not an object")
    for key in ("order", "order_id", "id"):
        if key in data:
            return PlacedOrder(parse_id(data[key]), raw=dict(data))
    raise ValueError("the add answer has no order id")


def parse_balance(data: object) -> Balance:
    """The ``balance`` answer: ``{"balance": "100.84292", "currency": "USD"}``."""
    if not isinstance(data, Mapping) or "balance" not in data:
        raise ValueError("the balance answer has no balance")
    return Balance(parse_decimal(data["balance"]), _text(data.get("currency")), raw=dict(data))


# -- per-id answers ----------------------------------------------------------


def parse_order_statuses(data: object, order_ids: Sequence[int]) -> list[OrderStatusResult]:
    """The ``status`` answer, multi (keyed by id) or single (flat), one result per id."""
    return _per_id(
        data,
        order_ids,
        ("order", "order_id", "id"),
        ("status", "charge", "remains", "start_count", "error"),
        _order_status,
        lambda i, err, raw: OrderStatusResult(i, error=err, raw=raw),
    )


def parse_refills(data: object, order_ids: Sequence[int]) -> list[RefillResult]:
    """The ``refill`` answer: ``[{"order": 1, "refill": 1}, ...]`` or ``{"refill": "1"}``."""
    return _per_id(
        data,
        order_ids,
        ("order", "order_id"),
        ("refill", "error"),
        _refill,
        lambda i, err, raw: RefillResult(i, error=err, raw=raw),
    )


def parse_refill_statuses(data: object, refill_ids: Sequence[int]) -> list[RefillStatusResult]:
    """The ``refill_status`` answer; a status given under ``type`` (as in the reference) is read."""
    return _per_id(
        data,
        refill_ids,
        ("refill", "refill_id", "id"),
        ("status", "type", "error"),
        _refill_status,
        lambda i, err, raw: RefillStatusResult(i, error=err, raw=raw),
    )


def parse_cancels(data: object, order_ids: Sequence[int]) -> list[CancelResult]:
    """The ``cancel`` answer about orders: ``[{"order": 1, "type": "order", "cancel": 100}]``."""
    return _per_id(
        data,
        order_ids,
        ("order", "order_id"),
        ("cancel", "error"),
        _cancel,
        lambda i, err, raw: CancelResult(i, error=err, raw=raw),
    )


def parse_cancel_statuses(data: object, cancel_ids: Sequence[int]) -> list[CancelStatusResult]:
    """The ``cancel`` (with ``cancels``) answer: ``[{"cancel": 1, "status": "Completed"}]``."""
    return _per_id(
        data,
        cancel_ids,
        ("cancel", "cancel_id", "id"),
        ("status", "error"),
        _cancel_status,
        lambda i, err, raw: CancelStatusResult(i, error=err, raw=raw),
    )


# -- entries -----------------------------------------------------------------


def _order_status(order_id: int, entry: object) -> OrderStatusResult:
    value, raw = _field(entry, "status")
    status, error = _status_or_error(value, order_status)
    if error is not None or not isinstance(entry, Mapping):
        return OrderStatusResult(order_id, status, error=error, raw=raw)
    return OrderStatusResult(
        order_id,
        status,
        charge=parse_optional_decimal(entry.get("charge")),
        start_count=parse_optional_int(entry.get("start_count")),
        remains=parse_optional_int(entry.get("remains")),
        currency=_text(entry.get("currency")),
        raw=raw,
    )


def _refill(order_id: int, entry: object) -> RefillResult:
    value, raw = _field(entry, "refill")
    refill_id, error = _id_or_error(value)
    return RefillResult(order_id, refill_id, error=error, raw=raw)


def _cancel(order_id: int, entry: object) -> CancelResult:
    value, raw = _field(entry, "cancel")
    cancel_id, error = _id_or_error(value)
    kind = _text(raw.get("type"))
    return CancelResult(order_id, cancel_id, kind and kind.lower(), error=error, raw=raw)


def _refill_status(refill_id: int, entry: object) -> RefillStatusResult:
    if isinstance(entry, Mapping) and "status" not in entry and "type" in entry:
        entry = {**entry, "status": entry["type"]}
    value, raw = _field(entry, "status")
    status, error = _status_or_error(value, refill_status)
    return RefillStatusResult(refill_id, status, error=error, raw=raw)


def _cancel_status(cancel_id: int, entry: object) -> CancelStatusResult:
    value, raw = _field(entry, "status")
    status, error = _status_or_error(value, cancel_status)
    return CancelStatusResult(cancel_id, status, error=error, raw=raw)


def _field(entry: object, name: str) -> tuple[object, dict[str, Any]]:
    """The value of ``name`` in an entry (an entry may also be the bare value)."""
    if not isinstance(entry, Mapping):
        return entry, {name: entry}
    raw = dict(entry)
    error = answer_error(entry)
    if error is not None:
        return {"error": error.message}, raw
    if name not in entry:
        raise ValueError(f"no {name!r} in {raw!r:.80}")
    return entry[name], raw


def _id_or_error(value: object) -> tuple[int | None, ItemError | None]:
    """An id (``1``, ``"1"``), an error object, or a bare error string."""
    if isinstance(value, Mapping):
        error = answer_error(value)
        if error is None:
            raise ValueError(f"neither an id nor an error: {value!r:.80}")
        return None, error
    if isinstance(value, str) and not value.strip().isdigit():
        return None, make_error(" ".join(value.split()) or "empty answer")
    return parse_id(value), None


def _status_or_error(
    value: object, normalise: Callable[[object], S]
) -> tuple[S | None, ItemError | None]:
    """A status, an error object, or a bare error string in place of a status."""
    if isinstance(value, Mapping):
        error = answer_error(value)
        if error is None:
            raise ValueError(f"neither a status nor an error: {value!r:.80}")
        return None, error
    try:
        return normalise(value), None
    except ValueError:
        if isinstance(value, str) and error_code(value) != "unknown":
            return None, make_error(" ".join(value.split()))
        raise


def _per_id(
    data: object,
    ids: Sequence[int],
    id_keys: tuple[str, ...],
    entry_keys: tuple[str, ...],
    parse: Callable[[int, object], T],
    failed: Callable[[int, ItemError, dict[str, Any]], T],
) -> list[T]:
    results: list[T] = []
    for ident, entry in zip(ids, _entries(data, ids, id_keys, entry_keys), strict=True):
        if entry is _MISSING:
            results.append(failed(ident, ItemError("no answer for this id", "missing"), {}))
            continue
        try:
            results.append(parse(ident, entry))
        except ValueError as exc:
            raw = dict(entry) if isinstance(entry, Mapping) else {"value": entry}
            message = f"unreadable answer for this id: {exc}"
            results.append(failed(ident, ItemError(message, "unreadable"), raw))
    return results


def _entries(
    data: object, ids: Sequence[int], id_keys: tuple[str, ...], entry_keys: tuple[str, ...]
) -> list[object]:
    """What the answer holds for each id, in the order of ``ids`` (``_MISSING`` if nothing)."""
    if isinstance(data, Mapping):
        keyed = {str(key).strip(): value for key, value in data.items()}
        if any(str(ident) in keyed for ident in ids):
            return [keyed.get(str(ident), _MISSING) for ident in ids]
        if any(key in data for key in entry_keys):
            data = [data]
        elif not data:
            return [_MISSING for _ in ids]
        else:
            raise ValueError(f"unexpected answer with keys {sorted(map(str, data))[:5]}")
    if not isinstance(data, list):
        raise ValueError(f"unexpected answer of type {type(data).__name__}")
    by_id: dict[int, list[object]] = {}
    unnamed: list[object] = []
    for entry in data:
        ident = _entry_id(entry, id_keys)
        if ident is None:
            unnamed.append(entry)
        else:
            by_id.setdefault(ident, []).append(entry)
    if not by_id and len(unnamed) == len(ids):
        return unnamed
    out: list[object] = []
    for ident in ids:
        queue = by_id.get(ident)
        out.append(_MISSING if not queue else queue.pop(0) if len(queue) > 1 else queue[0])
    return out


def _entry_id(entry: object, id_keys: tuple[str, ...]) -> int | None:
    if isinstance(entry, Mapping):
        for key in id_keys:
            if key in entry:
                try:
                    return parse_int(entry[key])
                except ValueError:
                    return None
    return None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, Mapping | list):
        return None
    text = " ".join(str(value).split())
    return text or None
