"""Which fields the new-order form shows for a service, and beside which field
a refusal of the domain is shown.  The service types and their parameters are
catalog/types.py's table: this module only lays them out as inputs."""

from __future__ import annotations

from dataclasses import dataclass

from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.catalog.queries import ServiceView
from smmpanel.catalog.types import SUBSCRIPTION_DELAYS, service_type
from smmpanel.errors import DomainError
from smmpanel.orders.errors import (
    ActiveOrderExists,
    InvalidLink,
    InvalidOrderRequest,
    QuantityTooHigh,
    QuantityTooLow,
)

# Parameters given one item per line.
LINES = frozenset({"comments", "usernames", "hashtags", "groups", "keywords"})
NUMBERS = frozenset(
    {
        "quantity",
        "answer_number",
        "runs",
        "interval",
        "min",
        "max",
        "posts",
        "old_posts",
        "device",
        "type_of_traffic",
    }
)
# Labels and hints are English msgids (translated in the template).
LABELS = {
    "link": "Link",
    "quantity": "Quantity",
    "comments": "Comments (one per line)",
    "usernames": "Usernames (one per line)",
    "hashtags": "Hashtags (one per line)",
    "groups": "Groups (one per line)",
    "keywords": "Keywords (one per line)",
    "hashtag": "Hashtag",
    "username": "Username",
    "media": "Media link",
    "answer_number": "Answer number",
    "runs": "Runs (drip-feed)",
    "interval": "Interval between runs, minutes",
    "min": "Minimum per post",
    "max": "Maximum per post",
    "posts": "New posts (empty: unlimited)",
    "old_posts": "Old posts",
    "delay": "Delay, minutes",
    "expiry": "Expiry date (d/m/Y)",
    "country": "Country",
    "device": "Device (1-5)",
    "type_of_traffic": "Traffic type (1: Google keyword, 2: referrer, 3: direct)",
    "google_keyword": "Google keyword",
    "referring_url": "Referrer URL",
}
DELAYS = tuple(sorted(SUBSCRIPTION_DELAYS))


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    widget: str  # "text", "number", "lines" or "delay"
    required: bool


def order_fields(service: ServiceView) -> list[Field]:
    """The inputs of an order of `service`, in the order the form shows them."""
    kind = service_type(service.type)
    names: list[tuple[str, bool]] = []
    if kind.quantity != "subscription":
        names.append(("link", service.link_required))
    if kind.quantity == "param":
        names.append(("quantity", True))
    names += [(name, True) for name in kind.required]
    names += [(name, False) for name in kind.optional]
    if kind.dripfeed and service.dripfeed:
        names += [("runs", False), ("interval", False)]
    return [Field(name, LABELS.get(name, name), _widget(name), req) for name, req in names]


def _widget(name: str) -> str:
    if name in LINES:
        return "lines"
    if name == "delay":
        return "delay"
    return "number" if name in NUMBERS else "text"


def field_of(exc: DomainError, names: list[str]) -> str | None:
    """The field a refusal is about (shown beside it), None for the whole form
    (funds, an unknown service)."""
    if isinstance(exc, (InvalidLink, ActiveOrderExists)):
        return "link" if "link" in names else None
    if isinstance(exc, (QuantityTooLow, QuantityTooHigh)):
        for name in ("quantity", "max", "comments", "usernames"):
            if name in names:
                return name
        return None
    if isinstance(exc, InvalidOrderRequest):
        named = str(exc).split(":", 1)[0]
        return named if named in names else None
    if isinstance(exc, ServiceNotFound):
        return None
    return None
