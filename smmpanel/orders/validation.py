"""Turn the parameters of an `add` call into an order draft, per service type.

Parsing is lenient (numbers as strings or numbers, surrounding spaces, lines
separated by \\n, \\r\\n or \\r) and every refusal is a domain error naming the
parameter, so the edge can answer with the API's message (docs/api.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from smmpanel.catalog.models import Service
from smmpanel.catalog.types import SUBSCRIPTION_DELAYS, ServiceType, service_type
from smmpanel.orders.errors import InvalidLink, InvalidOrderRequest, QuantityTooHigh, QuantityTooLow
from smmpanel.orders.models import KIND_DRIPFEED, KIND_ORDER, KIND_SUBSCRIPTION

MAX_LINK_LENGTH = 2048
MAX_TEXT_LENGTH = 500
# Lists given one item per line (comments, usernames, groups, hashtags, keywords).
# A package is priced whole whatever its list holds, so its list is kept short.
MAX_LINES = 20_000
MAX_PACKAGE_LINES = 1_000
MAX_LINE_LENGTH = 1_000
MAX_RUNS = 1000
MAX_INTERVAL_MINUTES = 60 * 24 * 30
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# What str.isspace() calls a space (the same table: checked over every code
# point), or a control character: one search, not a loop over the characters
# (a tenth of the time, on the hot path of `add`).
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class OrderDraft:
    kind: str
    link: str
    quantity: int
    runs: int | None
    interval: int | None
    total_quantity: int
    package: bool
    params: dict[str, Any] = field(default_factory=dict)


def draft_order(service: Service, params: Mapping[str, Any], *, today: date) -> OrderDraft:
    kind = service_type(service.type)
    extra: dict[str, Any] = {}
    link = _order_link(service, kind, params)
    for name in kind.required:
        if name not in ("min", "max"):
            extra[name] = _required_param(kind, name, params)
    if kind.quantity == "subscription":
        return _subscription(service, link, params, extra, today)
    for name in kind.optional:
        value = _text(params.get(name))
        if value is not None:
            extra[name] = value
    if kind.name == "Web Traffic":
        _check_web_traffic(extra)
    quantity, package = _quantity(service, kind, params, extra)
    runs, interval = _dripfeed(service, kind, params)
    total = quantity * (runs or 1)
    return OrderDraft(
        kind=KIND_DRIPFEED if runs else KIND_ORDER,
        link=link,
        quantity=quantity,
        runs=runs,
        interval=interval,
        total_quantity=total,
        package=package,
        params=extra,
    )


def clean_link(value: object) -> str:
    """A link is a URL (http or https) or a bare page/handle: no spaces, no other scheme."""
    text = _text(value)
    if text is None or len(text) > MAX_LINK_LENGTH:
        raise InvalidLink("Incorrect link")
    if _SPACE_OR_CONTROL.search(text):
        raise InvalidLink("Incorrect link")
    scheme = _SCHEME.match(text)
    if scheme:
        rest = text[scheme.end() :]
        if scheme.group(1).lower() in ("http", "https"):
            host = rest[2:].split("/")[0] if rest.startswith("//") else ""
            if not host:
                raise InvalidLink("Incorrect link")
        elif not re.match(r"^\d+(/|$)", rest):
            # "host:port/path" is a bare link; any other scheme is refused.
            raise InvalidLink("Incorrect link")
    return text


def _order_link(service: Service, kind: ServiceType, params: Mapping[str, Any]) -> str:
    if kind.quantity == "subscription":
        return ""
    if not service.link_required:
        given = params.get("link")
        return clean_link(given) if _text(given) is not None else ""
    return clean_link(params.get("link"))


def _quantity(
    service: Service, kind: ServiceType, params: Mapping[str, Any], extra: dict[str, Any]
) -> tuple[int, bool]:
    if kind.quantity == "package":
        comments = extra.get("comments")
        return (len(comments) if isinstance(comments, list) else 1), True
    if kind.quantity in ("comments", "usernames"):
        quantity = len(extra[kind.quantity])
    else:
        quantity = _integer(params, "quantity", required=True, minimum=-(10**15))
    _check_bounds(service, quantity)
    return quantity, False


def _check_bounds(service: Service, quantity: int) -> None:
    if quantity < service.min_quantity:
        raise QuantityTooLow(service.min_quantity)
    if quantity > service.max_quantity:
        raise QuantityTooHigh(service.max_quantity)


def _dripfeed(
    service: Service, kind: ServiceType, params: Mapping[str, Any]
) -> tuple[int | None, int | None]:
    runs = _integer(params, "runs", required=False, minimum=0)
    interval = _integer(params, "interval", required=False, minimum=0)
    # Clients often send runs=0/1 (or empty) for an ordinary order.
    if runs is None or runs <= 1:
        return None, None
    if not (kind.dripfeed and service.dripfeed):
        raise InvalidOrderRequest("drip-feed is not available for this service")
    if runs > MAX_RUNS:
        raise InvalidOrderRequest(f"runs: at most {MAX_RUNS}")
    if interval is None or not 1 <= interval <= MAX_INTERVAL_MINUTES:
        raise InvalidOrderRequest(f"interval: 1 to {MAX_INTERVAL_MINUTES} minutes with runs")
    return runs, interval


def _required_param(kind: ServiceType, name: str, params: Mapping[str, Any]) -> Any:
    if name in ("comments", "usernames", "groups", "hashtags"):
        lines = _lines(params.get(name))
        if not lines:
            raise InvalidOrderRequest(f"{name}: one or more lines required")
        return _bounded_list(kind, name, lines)
    if name == "keywords":
        words = [w for w in re.split(r"[,\r\n]+", _text(params.get(name)) or "") if w.strip()]
        if not words:
            raise InvalidOrderRequest("keywords: one or more keywords required")
        return _bounded_list(kind, name, [w.strip() for w in words])
    if name == "answer_number":
        return _integer(params, name, required=True, minimum=1)
    value = _text(params.get(name))
    if value is None:
        raise InvalidOrderRequest(f"{name}: required for {kind.name} services")
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidOrderRequest(f"{name}: at most {MAX_TEXT_LENGTH} characters")
    if "\x00" in value:  # a subscription's username is stored as text; PostgreSQL refuses NUL
        raise InvalidOrderRequest(f"{name}: must not contain NUL characters")
    return value


def _bounded_list(kind: ServiceType, name: str, items: list[str]) -> list[str]:
    most = MAX_PACKAGE_LINES if kind.is_package else MAX_LINES
    if len(items) > most:
        raise InvalidOrderRequest(f"{name}: at most {most} lines")
    if any(len(item) > MAX_LINE_LENGTH for item in items):
        raise InvalidOrderRequest(f"{name}: at most {MAX_LINE_LENGTH} characters per line")
    return items


def _check_web_traffic(extra: dict[str, Any]) -> None:
    for name, top in (("device", 5), ("type_of_traffic", 3)):
        if name in extra:
            extra[name] = _integer(extra, name, required=True, minimum=1)
            if extra[name] > top:
                raise InvalidOrderRequest(f"{name}: 1 to {top}")
    if extra.get("type_of_traffic") == 1 and not extra.get("google_keyword"):
        raise InvalidOrderRequest("google_keyword: required when type_of_traffic is 1")
    if extra.get("type_of_traffic") == 2:
        if not extra.get("referring_url"):
            raise InvalidOrderRequest("referring_url: required when type_of_traffic is 2")
        extra["referring_url"] = clean_link(extra["referring_url"])


def _subscription(
    service: Service, link: str, params: Mapping[str, Any], extra: dict[str, Any], today: date
) -> OrderDraft:
    low = _integer(params, "min", required=True, minimum=0)
    high = _integer(params, "max", required=True, minimum=0)
    if low > high:
        raise InvalidOrderRequest("min: must not exceed max")
    _check_bounds(service, low)
    _check_bounds(service, high)
    extra.update(min=low, max=high)
    posts = _integer(params, "posts", required=False, minimum=1)
    old_posts = _integer(params, "old_posts", required=False, minimum=0)
    delay = _integer(params, "delay", required=False, minimum=0)
    if delay is not None and delay not in SUBSCRIPTION_DELAYS:
        raise InvalidOrderRequest(
            "delay: one of " + ", ".join(str(d) for d in sorted(SUBSCRIPTION_DELAYS))
        )
    extra.update(posts=posts, old_posts=old_posts or 0, delay=delay or 0)
    expiry = _text(params.get("expiry"))
    if expiry is not None:
        extra["expiry"] = _expiry(expiry, today).isoformat()
    return OrderDraft(
        kind=KIND_SUBSCRIPTION,
        link=str(extra["username"]),
        quantity=high,
        runs=None,
        interval=None,
        total_quantity=high,
        package=False,
        params=extra,
    )


def _expiry(text: str, today: date) -> date:
    try:
        value = datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise InvalidOrderRequest("expiry: a date as d/m/Y, like 31/12/2026") from None
    if value < today:
        raise InvalidOrderRequest("expiry: the date has passed")
    return value


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, bool)):
        return None
    if isinstance(value, list):
        value = "\n".join(str(item) for item in value)
    text = str(value).strip()
    return text or None


def _lines(value: object) -> list[str]:
    text = _text(value)
    if text is None:
        return []
    return [line.strip() for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def _integer(params: Mapping[str, Any], name: str, *, required: bool, minimum: int) -> Any:
    raw = params.get(name)
    if isinstance(raw, bool) or (
        raw is not None and not isinstance(raw, (str, int, Decimal, float))
    ):
        raise InvalidOrderRequest(f"{name}: a whole number")
    text = _text(raw)
    if text is None:
        if required:
            raise InvalidOrderRequest(f"{name}: required")
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidOrderRequest(f"{name}: a whole number") from None
    # Magnitude first: comparing a Decimal like 1e9999999 with an int overflows
    # the decimal context (decimal.Overflow).
    if not number.is_finite() or number.adjusted() > 15 or abs(number) > 10**15:
        raise InvalidOrderRequest(f"{name}: a whole number")
    if number != number.to_integral_value():
        raise InvalidOrderRequest(f"{name}: a whole number")
    if number < minimum:
        raise InvalidOrderRequest(f"{name}: at least {minimum}")
    return int(number)
