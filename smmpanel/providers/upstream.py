"""The upstream panel as the providers code sees it: a port.

Forwarding, reconciliation, the status and price syncs call an `Upstream`
and get back the small results below, or one of the errors below.  Only
``sdk_adapter.py`` knows that an `Upstream` is the SDK (``smmpanel.client``)
underneath; ``gateway.open_upstream`` opens one for a provider.  So the SDK
stays a library of its own, and what the panel relies on from an upstream is
written down here, in the panel's words.

Errors, by what the panel does about them::

    UpstreamError                the call failed (log it, try again later)
    ├── UpstreamRefused          the upstream answered {"error": ...}: it did nothing
    ├── UpstreamUnreachable      no usable answer (connection, timeout, HTTP 429/5xx)
    │   └── UpstreamOutcomeUnknown   an `add` that may have reached it: look it up
    └── UpstreamUnreadable       an answer that cannot be read (HTML, empty, odd shape)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, Self

# --- errors ----------------------------------------------------------------------------


class UpstreamError(Exception):
    """A call to an upstream panel failed.  The text never holds the key."""


class UpstreamRefused(UpstreamError):
    """The upstream answered with an error: it surely did nothing.  `code` is the
    normalised reason (``not_enough_funds``, ``invalid_key``, ``incorrect_service``,
    ... or ``unknown``), `message` the upstream's own text."""

    def __init__(self, text: str, *, message: str, code: str) -> None:
        super().__init__(text)
        self.message, self.code = message, code


class UpstreamUnreachable(UpstreamError):
    """No usable answer.  `nothing_sent`: the request surely never reached the
    upstream (the connection could not be made); `status_code`: the HTTP status
    when there was one (429: rate limited, nothing done)."""

    def __init__(self, text: str, *, nothing_sent: bool, status_code: int | None = None) -> None:
        super().__init__(text)
        self.nothing_sent, self.status_code = nothing_sent, status_code


class UpstreamOutcomeUnknown(UpstreamUnreachable):
    """An `add` without a request_id was lost after it may have reached the
    upstream: the order may exist there."""


class UpstreamUnreadable(UpstreamError):
    """The upstream answered something that cannot be read."""


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    """One service of the upstream's catalogue, as listed."""

    service: int
    name: str
    type: str
    rate: Decimal
    min: int
    max: int
    dripfeed: bool
    refill: bool
    cancel: bool
    category: str
    description: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class UpstreamBalance:
    balance: Decimal
    currency: str | None


@dataclass(frozen=True)
class UpstreamOrderStatus:
    """An order's status at the upstream.  `status` is one of the order statuses
    (Pending ... Canceled) or None; `error` the upstream's text when it could
    not tell (e.g. "Incorrect order ID"); `raw` the answer itself (a
    subscription's posts are read from it)."""

    order_id: int
    status: str | None = None
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class UpstreamRequest:
    """The answer to a refill or cancel request for one order: the upstream's id
    of the request, or its reason for refusing it."""

    order_id: int
    request_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class UpstreamRequestStatus:
    """A refill's or a cancel's status at the upstream (None when not told)."""

    request_id: int
    status: str | None = None


# --- the port --------------------------------------------------------------------------


class Upstream(Protocol):
    """One upstream panel, open for calls; close it (or use it in `with`) after."""

    def services(self) -> list[CatalogEntry]: ...

    def balance(self) -> UpstreamBalance: ...

    def add(self, service: int | str, *, request_id: str | None = None, **params: Any) -> str:
        """Place an order; returns the upstream's order id."""
        ...

    def status(self, order_id: int) -> UpstreamOrderStatus: ...

    def statuses(self, order_ids: list[int]) -> list[UpstreamOrderStatus]: ...

    def refill(self, order_id: int) -> UpstreamRequest: ...

    def refill_statuses(self, refill_ids: list[int]) -> list[UpstreamRequestStatus]: ...

    def cancel(self, order_ids: list[int]) -> list[UpstreamRequest]: ...

    def cancel_statuses(self, cancel_ids: list[int]) -> list[UpstreamRequestStatus]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
