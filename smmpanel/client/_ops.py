"""The actions of the API, written once for both clients.

Each operation is a generator: it yields the :class:`Call` s to make, receives
each decoded answer, and returns the typed result. The sync and async clients
only drive these generators, so building parameters, splitting ids into
batches of 100, merging answers and reading dialects is shared code.

A generator raising :class:`ValueError` after an answer means the answer is
unreadable; the driver turns that into a :class:`ProtocolError`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import dialect
from .dialect import ID_ERROR_CODES, answer_error, error_details
from .errors import ApiError
from .models import (
    Balance,
    ItemError,
    OrderStatusResult,
    PlacedOrder,
    RefillResult,
    RefillStatusResult,
    Service,
)

T = TypeVar("T")
Op = Generator["Call", Any, T]
Progress = Callable[[int, int], None]
ParamValue = str | int
Ids = int | str | Iterable[int | str]
MAX_IDS = 100


class Retry(enum.Enum):
    """When a call may be sent again."""

    SAFE = "safe"  # reads, and add with a request_id: on any transport error, 429 or 5xx
    CONNECT_ONLY = "connect_only"  # creations: only when nothing can have been sent


@dataclass(frozen=True)
class Call:
    """One HTTP call to make."""

    action: str
    params: dict[str, ParamValue]
    retry: Retry = Retry.SAFE
    idempotency_key: str | None = None
    may_create_order: bool = False  # add without request_id: a lost answer may hide an order


def to_ids(ids: Ids, what: str = "id") -> list[int]:
    """Ids as ints, digit strings, one id alone or ``"1,2,3"`` -> list of positive ints."""
    if isinstance(ids, str):
        items: list[Any] = ids.split(",")
    else:
        items = [ids] if isinstance(ids, int) else list(ids)
    out: list[int] = []
    for item in items:
        try:
            out.append(dialect.parse_id(item))
        except ValueError:
            raise ValueError(f"not a valid {what}: {item!r}") from None
    return out


def _raise_for(data: object) -> None:
    error = answer_error(data)
    if error is not None:
        raise _api_error(error, data)


def _api_error(error: ItemError, answer: object) -> ApiError:
    """The panel's error with everything it said about it."""
    return ApiError(error.message, error.code, details=error_details(answer), answer=answer)


def _single(results: Sequence[Any]) -> Any:
    """The one result of a single-id call: raise its error, if any."""
    (result,) = results
    error: ItemError | None = result.error
    if error is not None:
        if error.code in ("missing", "unreadable"):
            raise ValueError(error.message)
        raise _api_error(error, result.raw or {"error": error.message})
    return result


# -- reads -------------------------------------------------------------------


def services() -> Op[list[Service]]:
    data = yield Call("services", {"action": "services"})
    _raise_for(data)
    return dialect.parse_services(data)


def balance() -> Op[Balance]:
    data = yield Call("balance", {"action": "balance"})
    _raise_for(data)
    return dialect.parse_balance(data)


def status(order_id: int) -> Op[OrderStatusResult]:
    data = yield Call("status", {"action": "status", "order": order_id})
    _raise_for(data)
    result: OrderStatusResult = _single(dialect.parse_order_statuses(data, [order_id]))
    return result


def refill_status(refill_id: int) -> Op[RefillStatusResult]:
    data = yield Call("refill_status", {"action": "refill_status", "refill": refill_id})
    _raise_for(data)
    result: RefillStatusResult = _single(dialect.parse_refill_statuses(data, [refill_id]))
    return result


# -- batched calls -----------------------------------------------------------


@dataclass(frozen=True)
class Batches(Generic[T]):
    """A question about many ids, asked in calls of at most ``size`` ids each.

    The calls are independent, so a client may make them one after another
    (:func:`batched`) or several at once (the async client).
    """

    action: str
    param: str
    ids: list[int]
    parse: Callable[[object, Sequence[int]], list[T]]
    retry: Retry = Retry.SAFE
    size: int = MAX_IDS

    def chunks(self) -> list[list[int]]:
        return [self.ids[start : start + self.size] for start in range(0, len(self.ids), self.size)]

    def call(self, chunk: list[int]) -> Op[list[T]]:
        """One call about ``chunk``; results in ``chunk`` order.

        A whole-call error answer raises :class:`ApiError`, except an id-level
        error (``Incorrect order ID``) answered flat to a call about one id,
        which becomes that id's result.
        """
        params: dict[str, ParamValue] = {
            "action": self.action,
            self.param: ",".join(map(str, chunk)),
        }
        data = yield Call(self.action, params, self.retry)
        error = answer_error(data)
        if error is not None and not (len(chunk) == 1 and error.code in ID_ERROR_CODES):
            raise _api_error(error, data)
        return self.parse(data, chunk)


def batched(batches: Batches[T], progress: Progress | None = None) -> Op[list[T]]:
    """All of ``batches``' calls, one after another; results in input order."""
    results: list[T] = []
    for chunk in batches.chunks():
        results.extend((yield from batches.call(chunk)))
        if progress is not None:
            progress(len(results), len(batches.ids))
    return results


# -- creations ---------------------------------------------------------------


def refill(order_id: int) -> Op[RefillResult]:
    data = yield Call("refill", {"action": "refill", "order": order_id}, Retry.CONNECT_ONLY)
    _raise_for(data)
    result: RefillResult = _single(dialect.parse_refills(data, [order_id]))
    return result


def _service_id(service: int | str) -> ParamValue:
    """A service id: an int as the API has it, or a panel's own non-numeric id."""
    try:
        return dialect.parse_id(service)
    except ValueError:
        if isinstance(service, str) and service.strip():
            return service.strip()
        raise ValueError(f"not a valid service id: {service!r}") from None


def add_params(
    service: int | str, link: str | None, quantity: int | None, **options: Any
) -> dict[str, ParamValue]:
    """The parameters of ``add``: ``None`` left out, lists (comments, usernames, ...) joined
    by newlines, dates as d/m/Y, booleans as 1/0."""
    params: dict[str, ParamValue] = {"action": "add", "service": _service_id(service)}
    if link is not None:
        params["link"] = link
    if quantity is not None:
        params["quantity"] = quantity
    for name, value in options.items():
        if value is None:
            continue
        if name in ("action", "key", "service", "link", "quantity"):
            raise TypeError(f"add() got a second value for {name!r}")
        if isinstance(value, list | tuple):
            value = "\n".join(str(item) for item in value)
        elif isinstance(value, dt.date):
            value = value.strftime("%d/%m/%Y")
        elif isinstance(value, bool):
            value = int(value)
        elif not isinstance(value, str | int):
            value = str(value)
        params[name] = value
    return params


def add(params: dict[str, ParamValue], request_id: str | None) -> Op[PlacedOrder]:
    if request_id is None:
        call = Call("add", params, Retry.CONNECT_ONLY, may_create_order=True)
    else:
        call = Call("add", {**params, "request_id": request_id}, Retry.SAFE, request_id)
    data = yield call
    _raise_for(data)
    return dialect.parse_placed_order(data)


def add_from_arguments(arguments: dict[str, Any]) -> Op[PlacedOrder]:
    """The ``add`` operation from the ``locals()`` of a client's ``add`` method."""
    options = {name: value for name, value in arguments.items() if name != "self"}
    extra = options.pop("extra")
    service, link, quantity = options.pop("service"), options.pop("link"), options.pop("quantity")
    request_id = options.pop("request_id")
    if request_id is not None:
        request_id = str(request_id).strip()
        if not request_id:
            raise ValueError("request_id must not be empty")
    return add(add_params(service, link, quantity, **options, **extra), request_id)
