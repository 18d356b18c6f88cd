"""The synchronous client."""

from __future__ import annotations

import datetime as dt
import ssl
import time
from types import TracebackType
from typing import Any, TypeVar

import httpx

from . import _ops, dialect
from ._base import BaseClient, Method
from ._ops import Ids, Op, Progress
from .errors import ApiError
from .models import (
    Balance,
    CancelResult,
    CancelStatusResult,
    OrderStatusResult,
    PlacedOrder,
    RefillResult,
    RefillStatusResult,
    Service,
)

__all__ = ["Client"]

T = TypeVar("T")


class Client(BaseClient):
    """A client of one panel's API v2, over one pooled ``httpx.Client``.

    ::

        with Client("https://panel.example/api/v2", key) as panel:
            print(panel.balance().balance)

    ``method`` is ``"post"`` (form, the default), ``"json"`` or ``"get"``.
    Reads are retried ``retries`` times on transport errors, HTTP 429 and
    5xx, waiting ``backoff`` * 2**n seconds (with jitter); creations only when
    that is safe (see docs/client.md). ``timeout`` is in seconds, per I/O step.
    ``transport`` (an ``httpx.BaseTransport``) replaces httpx's own: every
    request goes through it, and ``verify`` and proxy variables are then its
    business.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        method: Method = "post",
        timeout: float | httpx.Timeout = 30.0,
        user_agent: str | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        batch_size: int = _ops.MAX_IDS,
        headers: dict[str, str] | None = None,
        verify: bool | ssl.SSLContext = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            url,
            key,
            method=method,
            timeout=timeout,
            user_agent=user_agent,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            batch_size=batch_size,
            headers=headers,
            verify=verify,
        )
        # The caller's transport decides how to connect (TLS, proxies): the panel
        # passes one that refuses private addresses.
        self._http = httpx.Client(**self._http_options, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # -- the actions -------------------------------------------------------

    def services(self) -> list[Service]:
        """The panel's services."""
        return self._run(_ops.services())

    def add(
        self,
        service: int,
        link: str | None = None,
        quantity: int | None = None,
        *,
        runs: int | None = None,
        interval: int | None = None,
        comments: str | list[str] | None = None,
        usernames: str | list[str] | None = None,
        hashtags: str | list[str] | None = None,
        hashtag: str | None = None,
        username: str | None = None,
        media: str | None = None,
        answer_number: int | None = None,
        groups: str | list[str] | None = None,
        keywords: str | list[str] | None = None,
        country: str | None = None,
        device: int | None = None,
        type_of_traffic: int | None = None,
        google_keyword: str | None = None,
        referring_url: str | None = None,
        min: int | None = None,
        max: int | None = None,
        posts: int | None = None,
        old_posts: int | None = None,
        delay: int | None = None,
        expiry: str | dt.date | None = None,
        request_id: str | None = None,
        **extra: Any,
    ) -> PlacedOrder:
        """Place an order; parameters left ``None`` are not sent, lists are joined by newlines.

        ``service`` is the API's integer id (a panel's non-numeric id given as a
        string is sent as it is).

        Without ``request_id`` a lost answer raises :class:`OrderMayExistError`
        and nothing is retried after the request may have been sent. With it,
        the call is retried (``request_id`` parameter and ``Idempotency-Key``
        header): only for panels that honour it.
        """
        return self._run(_ops.add_from_arguments(locals()))

    def status(self, order_id: int) -> OrderStatusResult:
        """The status of one order; raises :class:`ApiError` for an unknown id."""
        return self._run(_ops.status(dialect.parse_id(order_id)))

    def statuses(
        self, order_ids: Ids, *, progress: Progress | None = None
    ) -> list[OrderStatusResult]:
        """Statuses of many orders, in calls of 100; per-id errors stay in the results.

        ``progress(done, total)`` is called after each call.
        """
        return self._run(_ops.batched(self._batch_statuses(order_ids), progress))

    def refill(self, order_id: int) -> RefillResult:
        """Ask for a refill of one order; raises :class:`ApiError` when refused."""
        return self._run(_ops.refill(dialect.parse_id(order_id)))

    def refills(self, order_ids: Ids, *, progress: Progress | None = None) -> list[RefillResult]:
        """Ask for refills of many orders; per-id errors stay in the results."""
        return self._run(_ops.batched(self._batch_refills(order_ids), progress))

    def refill_status(self, refill_id: int) -> RefillStatusResult:
        """The status of one refill request."""
        return self._run(_ops.refill_status(dialect.parse_id(refill_id)))

    def refill_statuses(
        self, refill_ids: Ids, *, progress: Progress | None = None
    ) -> list[RefillStatusResult]:
        """Statuses of many refill requests; per-id errors stay in the results."""
        return self._run(_ops.batched(self._batch_refill_statuses(refill_ids), progress))

    def cancel(self, order_ids: Ids, *, progress: Progress | None = None) -> list[CancelResult]:
        """Ask to cancel one or many orders (``action=cancel`` with ``orders``)."""
        return self._run(_ops.batched(self._batch_cancels(order_ids), progress))

    def cancel_statuses(
        self, cancel_ids: Ids, *, progress: Progress | None = None
    ) -> list[CancelStatusResult]:
        """Statuses of cancel requests (``action=cancel`` with ``cancels``)."""
        return self._run(_ops.batched(self._batch_cancel_statuses(cancel_ids), progress))

    def balance(self) -> Balance:
        """The account's balance."""
        return self._run(_ops.balance())

    # -- driving an operation ----------------------------------------------

    def _run(self, op: Op[T]) -> T:
        try:
            call = next(op)
        except StopIteration as stop:
            result: T = stop.value
            return result
        while True:
            response = self._send(call)
            data = self._decode(call, response)
            try:
                call = op.send(data)
            except StopIteration as stop:
                result = stop.value
                return result
            except ValueError as exc:
                raise self._unreadable(call, response, exc) from None
            except ApiError as exc:
                raise self._redacted(exc) from None

    def _send(self, call: _ops.Call) -> httpx.Response:
        attempt = 0
        while True:
            request = self._build(self._http, call)
            try:
                response = self._http.send(request)
            except httpx.HTTPError as exc:
                delay = self._exception_delay(call, exc, attempt)
                why = type(exc).__name__
            else:
                maybe = self._response_delay(call, response, attempt)
                if maybe is None:
                    return response
                delay, why = maybe, f"HTTP {response.status_code}"
            self._log_retry(call, attempt, delay, why)
            time.sleep(delay)
            attempt += 1
