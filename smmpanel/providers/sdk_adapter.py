"""The `Upstream` port (upstream.py) made of the SDK's `Client`.

This is the only module of the panel that imports ``smmpanel.client``
(tests/test_architecture_client.py checks it): the SDK's results become the
panel's own result types and its exceptions the panel's upstream errors, so
nothing else depends on the SDK's shapes.  The error texts are the SDK's (they
are recorded and shown as they were).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from smmpanel.client import (
    ApiError,
    CancelResult,
    CancelStatusResult,
    Client,
    OrderMayExistError,
    OrderStatusResult,
    ProtocolError,
    RefillResult,
    RefillStatusResult,
    Service,
    SmmError,
    TransportError,
)
from smmpanel.providers.upstream import (
    CatalogEntry,
    UpstreamBalance,
    UpstreamError,
    UpstreamOrderStatus,
    UpstreamOutcomeUnknown,
    UpstreamRefused,
    UpstreamRequest,
    UpstreamRequestStatus,
    UpstreamUnreachable,
    UpstreamUnreadable,
)

T = TypeVar("T")
Method = Literal["post", "json", "get"]


def connect(
    api_url: str,
    api_key: str,
    *,
    method: Method,
    timeout: float,
    transport: httpx.BaseTransport,
    user_agent: str,
) -> SdkUpstream:
    """An upstream over the SDK.  ValueError when the SDK refuses the settings."""
    return SdkUpstream(
        Client(
            api_url,
            api_key,
            method=method,
            timeout=timeout,
            user_agent=user_agent,
            transport=transport,
        )
    )


class SdkUpstream:
    """An `Upstream` (see upstream.py) backed by an SDK client."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def services(self) -> list[CatalogEntry]:
        return [_entry(s) for s in _call(self._client.services)]

    def balance(self) -> UpstreamBalance:
        answer = _call(self._client.balance)
        return UpstreamBalance(answer.balance, answer.currency)

    def add(self, service: int | str, *, request_id: str | None = None, **params: Any) -> str:
        placed = _call(
            lambda: self._client.add(service, request_id=request_id, **params)  # type: ignore[arg-type]
        )
        return str(placed.order_id)

    def status(self, order_id: int) -> UpstreamOrderStatus:
        return _order_status(_call(lambda: self._client.status(order_id)))

    def statuses(self, order_ids: list[int]) -> list[UpstreamOrderStatus]:
        return [_order_status(r) for r in _call(lambda: self._client.statuses(order_ids))]

    def refill(self, order_id: int) -> UpstreamRequest:
        return _refill(_call(lambda: self._client.refill(order_id)))

    def refill_statuses(self, refill_ids: list[int]) -> list[UpstreamRequestStatus]:
        found = _call(lambda: self._client.refill_statuses(refill_ids))
        return [_refill_status(r) for r in found]

    def cancel(self, order_ids: list[int]) -> list[UpstreamRequest]:
        return [_cancel(r) for r in _call(lambda: self._client.cancel(order_ids))]

    def cancel_statuses(self, cancel_ids: list[int]) -> list[UpstreamRequestStatus]:
        found = _call(lambda: self._client.cancel_statuses(cancel_ids))
        return [_cancel_status(r) for r in found]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _call(call: Callable[[], T]) -> T:
    with upstream_errors():
        return call()


@contextmanager
def upstream_errors() -> Iterator[None]:
    """Raise the SDK's exceptions as the panel's upstream errors (same text)."""
    try:
        yield
    except ApiError as exc:
        raise UpstreamRefused(str(exc), message=exc.message, code=exc.code) from exc
    except OrderMayExistError as exc:
        raise UpstreamOutcomeUnknown(
            str(exc), nothing_sent=exc.nothing_sent, status_code=exc.status_code
        ) from exc
    except TransportError as exc:
        raise UpstreamUnreachable(
            str(exc), nothing_sent=exc.nothing_sent, status_code=exc.status_code
        ) from exc
    except ProtocolError as exc:
        raise UpstreamUnreadable(str(exc)) from exc
    except SmmError as exc:  # a kind the SDK may add later: still an upstream failure
        raise UpstreamError(str(exc)) from exc


def _entry(service: Service) -> CatalogEntry:
    return CatalogEntry(
        service=service.service,
        name=service.name,
        type=str(service.type),
        rate=service.rate,
        min=service.min,
        max=service.max,
        dripfeed=service.dripfeed,
        refill=service.refill,
        cancel=service.cancel,
        category=service.category,
        description=service.description,
        raw=service.raw,
    )


def _order_status(result: OrderStatusResult) -> UpstreamOrderStatus:
    return UpstreamOrderStatus(
        order_id=result.order_id,
        status=None if result.status is None else str(result.status.value),
        charge=result.charge,
        start_count=result.start_count,
        remains=result.remains,
        currency=result.currency,
        error=None if result.error is None else result.error.message,
        raw=result.raw,
    )


def _refill(result: RefillResult) -> UpstreamRequest:
    error = None if result.error is None else result.error.message
    return UpstreamRequest(result.order_id, result.refill_id, error)


def _cancel(result: CancelResult) -> UpstreamRequest:
    error = None if result.error is None else result.error.message
    return UpstreamRequest(result.order_id, result.cancel_id, error)


def _refill_status(result: RefillStatusResult) -> UpstreamRequestStatus:
    status = None if result.status is None else str(result.status.value)
    return UpstreamRequestStatus(result.refill_id, status)


def _cancel_status(result: CancelStatusResult) -> UpstreamRequestStatus:
    status = None if result.status is None else str(result.status.value)
    return UpstreamRequestStatus(result.cancel_id, status)
