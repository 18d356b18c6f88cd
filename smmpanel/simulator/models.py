"""Records the simulator keeps: orders, refills, cancel requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from smmpanel.simulator.validation import SubscriptionTerms

PENDING = "Pending"
IN_PROGRESS = "In progress"
PROCESSING = "Processing"
COMPLETED = "Completed"
PARTIAL = "Partial"
CANCELED = "Canceled"
REJECTED = "Rejected"
ERROR = "Error"

ORDER_STATUSES = (PENDING, IN_PROGRESS, PROCESSING, COMPLETED, PARTIAL, CANCELED)
ORDER_ACTIVE = frozenset({PENDING, IN_PROGRESS, PROCESSING})
REFILL_STATUSES = (PENDING, IN_PROGRESS, COMPLETED, REJECTED, ERROR)
REFILL_FINAL = frozenset({COMPLETED, REJECTED, ERROR})
CANCEL_STATUSES = (PENDING, COMPLETED, REJECTED)

CENT5 = Decimal("0.00001")


def money(value: Decimal) -> Decimal:
    """Round to 5 decimal places, half up."""
    return value.quantize(CENT5, rounding=ROUND_HALF_UP)


def money_str(value: Decimal) -> str:
    return str(money(value))


@dataclass
class Order:
    id: int
    service: int
    type: str
    kind: str  # order | dripfeed | subscription
    link: str | None
    quantity: int
    units: int  # units charged; charge = rate x units / 1000
    params: dict[str, str]
    request_id: str | None
    rate: Decimal
    charge: Decimal
    created: float  # simulated instant
    can_refill: bool
    can_cancel: bool
    status: str = PENDING
    start_count: int = 0
    remains: int = 0
    outcome: str | None = None  # "partial" | "cancel": how a fault makes it end
    partial_remains: int = 0
    frozen: bool = False  # forced through set_status: no more automatic progress
    refunded: Decimal = Decimal(0)
    add_requests: int = 1
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    subscription: SubscriptionTerms | None = None
    posts_made: int = 0
    skipped_posts: int = 0
    cancel_id: int | None = None  # the cancel request still pending, if any
    refill_id: int | None = None  # the latest refill request, if any
    finished: float | None = None  # instant it reached a final status

    def record(self, wall: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "service": self.service,
            "type": self.type,
            "kind": self.kind,
            "link": self.link,
            "quantity": self.quantity,
            "params": dict(self.params),
            "request_id": self.request_id,
            "status": self.status,
            "start_count": self.start_count,
            "remains": self.remains,
            "charge": money_str(self.charge),
            "refunded": money_str(self.refunded),
            "created": self.created,
            "created_at": wall,
            "add_requests": self.add_requests,
            "outcome": self.outcome,
            "frozen": self.frozen,
            "parent": self.parent,
        }
        if self.kind == "subscription":
            data["children"] = list(self.children)
            data["posts_made"] = self.posts_made
            data["skipped_posts"] = self.skipped_posts
        return data


@dataclass
class Refill:
    id: int
    order: int
    created: float
    status: str = PENDING
    frozen: bool = False

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order": self.order,
            "created": self.created,
            "status": self.status,
            "frozen": self.frozen,
        }


@dataclass
class Cancel:
    id: int
    order: int
    created: float
    status: str = PENDING
    frozen: bool = False

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order": self.order,
            "created": self.created,
            "status": self.status,
            "frozen": self.frozen,
        }


@dataclass
class OrderView:
    """What `status` reports for one order (formatting happens in the protocol layer)."""

    id: int
    charge: Decimal
    start_count: int
    status: str
    remains: int
    currency: str
    children: list[int] | None = None
