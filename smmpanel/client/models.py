"""Typed results of the reseller API v2: enums and frozen dataclasses.

Money and rates are :class:`~decimal.Decimal`, ids and counts are ``int``.
Every result keeps the panel's original object in ``raw`` (excluded from
equality and ``repr``) so fields a particular panel adds stay reachable.

Results of calls about many ids (``statuses``, ``refills``, ...) carry either
their value or an :class:`ItemError`; ``result.ok`` tells which.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "Balance",
    "CancelResult",
    "CancelStatus",
    "CancelStatusResult",
    "ItemError",
    "OrderStatus",
    "OrderStatusResult",
    "PlacedOrder",
    "RefillResult",
    "RefillStatus",
    "RefillStatusResult",
    "Service",
    "ServiceType",
]


class OrderStatus(enum.StrEnum):
    """The status of an order, in the API's exact spelling."""

    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    PROCESSING = "Processing"
    COMPLETED = "Completed"
    PARTIAL = "Partial"
    CANCELED = "Canceled"

    @property
    def is_final(self) -> bool:
        """True for the statuses an order never leaves (Completed, Partial, Canceled)."""
        return self in (OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED)


class RefillStatus(enum.StrEnum):
    """The status of a refill request."""

    PENDING = "Pending"
    IN_PROGRESS = "In progress"
    COMPLETED = "Completed"
    REJECTED = "Rejected"
    ERROR = "Error"


class CancelStatus(enum.StrEnum):
    """The status of a cancel request."""

    PENDING = "Pending"
    COMPLETED = "Completed"
    REJECTED = "Rejected"


class ServiceType(enum.StrEnum):
    """The service types of docs/api.md; ``Service.type`` compares equal to these."""

    DEFAULT = "Default"
    PACKAGE = "Package"
    CUSTOM_COMMENTS = "Custom Comments"
    CUSTOM_COMMENTS_PACKAGE = "Custom Comments Package"
    MENTIONS = "Mentions"
    MENTIONS_WITH_HASHTAGS = "Mentions with Hashtags"
    MENTIONS_CUSTOM_LIST = "Mentions Custom List"
    MENTIONS_HASHTAG = "Mentions Hashtag"
    MENTIONS_USER_FOLLOWERS = "Mentions User Followers"
    MENTIONS_MEDIA_LIKERS = "Mentions Media Likers"
    COMMENT_LIKES = "Comment Likes"
    COMMENT_REPLIES = "Comment Replies"
    POLL = "Poll"
    INVITES_FROM_GROUPS = "Invites from Groups"
    SEO = "SEO"
    WEB_TRAFFIC = "Web Traffic"
    SUBSCRIPTIONS = "Subscriptions"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class ItemError:
    """An error the panel gave for one id of a multi-id call.

    ``code`` is normalised (see :func:`smmpanel.client.dialect.error_code`),
    ``message`` is the panel's own text.
    """

    message: str
    code: str

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code}


class _PerId:
    """Mixin of the per-id results: the value or an :class:`ItemError`."""

    error: ItemError | None

    @property
    def ok(self) -> bool:
        """True when the panel answered this id without an error."""
        return self.error is None

    def _with_error(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.error is not None:
            out.update(self.error.to_dict())
        return out


@dataclass(frozen=True)
class Service:
    """One entry of the ``services`` list."""

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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "name": self.name,
            "type": str(self.type),
            "rate": str(self.rate),
            "min": self.min,
            "max": self.max,
            "dripfeed": self.dripfeed,
            "refill": self.refill,
            "cancel": self.cancel,
            "category": self.category,
            "description": self.description,
        }


@dataclass(frozen=True)
class PlacedOrder:
    """The answer of ``add``: the id of the new order."""

    order_id: int
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"order": self.order_id}


@dataclass(frozen=True)
class OrderStatusResult(_PerId):
    """The status of one order; ``status`` is ``None`` only when ``error`` is set.

    ``start_count`` and ``remains`` are ``None`` when the panel does not know
    them (``"remains": "Unknown"``), ``charge`` and ``currency`` when absent.
    """

    order_id: int
    status: OrderStatus | None = None
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None
    error: ItemError | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"order": self.order_id}
        if self.status is not None:
            out.update(
                status=str(self.status),
                charge=_money(self.charge),
                start_count=self.start_count,
                remains=self.remains,
                currency=self.currency,
            )
        return self._with_error(out)


@dataclass(frozen=True)
class RefillResult(_PerId):
    """The answer to a refill request for one order: the refill's id or an error."""

    order_id: int
    refill_id: int | None = None
    error: ItemError | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return self._with_error({"order": self.order_id, "refill": self.refill_id})


@dataclass(frozen=True)
class RefillStatusResult(_PerId):
    """The status of one refill request."""

    refill_id: int
    status: RefillStatus | None = None
    error: ItemError | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        status = None if self.status is None else str(self.status)
        return self._with_error({"refill": self.refill_id, "status": status})


@dataclass(frozen=True)
class CancelResult(_PerId):
    """The answer to a cancel request for one order.

    ``type`` is the kind of order cancelled (``order``, ``dripfeed`` or
    ``subscription``) when the panel says so.
    """

    order_id: int
    cancel_id: int | None = None
    type: str | None = None
    error: ItemError | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {"order": self.order_id, "type": self.type, "cancel": self.cancel_id}
        return self._with_error(out)


@dataclass(frozen=True)
class CancelStatusResult(_PerId):
    """The status of one cancel request."""

    cancel_id: int
    status: CancelStatus | None = None
    error: ItemError | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        status = None if self.status is None else str(self.status)
        return self._with_error({"cancel": self.cancel_id, "status": status})


@dataclass(frozen=True)
class Balance:
    """The account's balance."""

    balance: Decimal
    currency: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"balance": str(self.balance), "currency": self.currency}
