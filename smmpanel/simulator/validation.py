"""Validation of `add` parameters, per service type, with the error messages of docs/api.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from smmpanel.catalog.types import SUBSCRIPTION_DELAYS
from smmpanel.simulator import catalog as c
from smmpanel.simulator.catalog import Service

INCORRECT_REQUEST = "Incorrect request"
INCORRECT_LINK = "Incorrect link"


class ApiError(Exception):
    """An API v2 logical error: answered as `{"error": message}` with HTTP 200."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class SubscriptionTerms:
    username: str
    min: int
    max: int
    posts: int | None
    old_posts: int
    delay: int  # minutes
    expiry: datetime | None  # first instant after the expiry day (UTC)


@dataclass
class Placement:
    """A validated `add`: what the order is, before money and ids."""

    link: str | None
    quantity: int  # total units to deliver (quantity x runs for drip-feed)
    kind: str = "order"  # order | dripfeed | subscription
    units: int = 0  # units charged (package types: 1000 so that charge = rate)
    params: dict[str, str] = field(default_factory=dict)
    subscription: SubscriptionTerms | None = None


def parse_int(value: str | None) -> int | None:
    """A whole number given as `"12"`, `" 12 "`, `"12.0"`; None when absent or malformed."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip()]


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise ApiError(INCORRECT_REQUEST)
    return value


def _required_int(params: dict[str, str], name: str, low: int = 0, high: int | None = None) -> int:
    number = parse_int(params.get(name))
    if number is None or number < low or (high is not None and number > high):
        raise ApiError(INCORRECT_REQUEST)
    return number


def _link(service: Service, params: dict[str, str]) -> str | None:
    link = params.get("link", "").strip()
    if not service.needs_link:
        return link or None
    if not link or len(link) > 2048 or any(ch.isspace() for ch in link):
        raise ApiError(INCORRECT_LINK)
    return link


def _bounds(service: Service, quantity: int) -> None:
    if quantity < service.min:
        raise ApiError(f"Quantity less than minimal {service.min}")
    if quantity > service.max:
        raise ApiError(f"Quantity more than maximum {service.max}")


def _quantity(service: Service, params: dict[str, str]) -> int:
    quantity = parse_int(params.get("quantity"))
    if quantity is None:
        raise ApiError(INCORRECT_REQUEST)
    _bounds(service, quantity)
    return quantity


# Types taking link + quantity + one required text parameter.
_TEXT_PARAMS: dict[str, tuple[str, ...]] = {
    c.MENTIONS: ("usernames",),
    c.MENTIONS_WITH_HASHTAGS: ("usernames", "hashtags"),
    c.MENTIONS_HASHTAG: ("hashtag",),
    c.MENTIONS_USER_FOLLOWERS: ("username",),
    c.MENTIONS_MEDIA_LIKERS: ("media",),
    c.COMMENT_LIKES: ("username",),
    c.INVITES_FROM_GROUPS: ("groups",),
    c.SEO: ("keywords",),
}


def validate_add(service: Service, params: dict[str, str]) -> Placement:
    """Check `params` against the service's type; raise ApiError with the exact message."""
    kind = service.type
    if kind == c.SUBSCRIPTIONS:
        return _subscription(service, params)
    link = _link(service, params)
    if kind in (c.DEFAULT, c.WEB_TRAFFIC):
        return _default_like(service, params, link)
    if kind == c.PACKAGE:
        return Placement(link, 1, units=1000)
    if kind == c.CUSTOM_COMMENTS_PACKAGE:
        comments = _required(params, "comments")
        return Placement(link, 1, units=1000, params={"comments": comments})
    if kind == c.CUSTOM_COMMENTS:
        if "comments" not in params:
            raise ApiError(INCORRECT_REQUEST)
        quantity = len(lines(params["comments"]))
        _bounds(service, quantity)
        extra = {"comments": params["comments"]}
        return Placement(link, quantity, units=quantity, params=extra)
    if kind == c.MENTIONS_CUSTOM_LIST:
        usernames = _required(params, "usernames")
        quantity = len(lines(usernames))
        _bounds(service, quantity)
        return Placement(link, quantity, units=quantity, params={"usernames": usernames})
    if kind == c.COMMENT_REPLIES:
        username = _required(params, "username")
        comments = _required(params, "comments")
        quantity = len(lines(comments))
        _bounds(service, quantity)
        extra = {"username": username, "comments": comments}
        return Placement(link, quantity, units=quantity, params=extra)
    if kind == c.POLL:
        quantity = _quantity(service, params)
        answer = _required_int(params, "answer_number", low=1)
        return Placement(link, quantity, units=quantity, params={"answer_number": str(answer)})
    if kind in _TEXT_PARAMS:
        quantity = _quantity(service, params)
        extra = {name: _required(params, name) for name in _TEXT_PARAMS[kind]}
        return Placement(link, quantity, units=quantity, params=extra)
    raise ApiError("Incorrect service ID")  # a catalog entry of an unknown type


def _default_like(service: Service, params: dict[str, str], link: str | None) -> Placement:
    quantity = _quantity(service, params)
    extra: dict[str, str] = {}
    kind = "order"
    runs_raw, interval_raw = params.get("runs", "").strip(), params.get("interval", "").strip()
    total = quantity
    if runs_raw or interval_raw:
        if not service.dripfeed:
            raise ApiError(INCORRECT_REQUEST)
        runs = _required_int(params, "runs", low=1)
        interval = _required_int(params, "interval", low=1)
        extra.update(runs=str(runs), interval=str(interval))
        total = quantity * runs
        kind = "dripfeed"
    if service.type == c.WEB_TRAFFIC:
        extra["country"] = _required(params, "country")
        extra["device"] = str(_required_int(params, "device", low=1, high=5))
        traffic = _required_int(params, "type_of_traffic", low=1, high=3)
        extra["type_of_traffic"] = str(traffic)
        if traffic == 1:
            extra["google_keyword"] = _required(params, "google_keyword")
        if traffic == 2:
            extra["referring_url"] = _required(params, "referring_url")
    return Placement(link, total, kind=kind, units=total, params=extra)


def _subscription(service: Service, params: dict[str, str]) -> Placement:
    username = _required(params, "username")
    low = _required_int(params, "min", low=0)
    high = _required_int(params, "max", low=0)
    if low > high:
        raise ApiError(INCORRECT_REQUEST)
    _bounds(service, low)
    _bounds(service, high)
    posts = _optional_int(params, "posts", low=1)
    old_posts = _optional_int(params, "old_posts", low=0) or 0
    delay = _optional_int(params, "delay", low=0) or 0
    if delay not in SUBSCRIPTION_DELAYS:
        raise ApiError(INCORRECT_REQUEST)
    expiry = None
    expiry_raw = params.get("expiry", "").strip()
    if expiry_raw:
        try:
            day = datetime.strptime(expiry_raw, "%d/%m/%Y").replace(tzinfo=UTC)
        except ValueError as exc:
            raise ApiError(INCORRECT_REQUEST) from exc
        expiry = day.replace(hour=23, minute=59, second=59)
    extra = {"username": username, "min": str(low), "max": str(high), "delay": str(delay)}
    if posts is not None:
        extra["posts"] = str(posts)
    if old_posts:
        extra["old_posts"] = str(old_posts)
    if expiry_raw:
        extra["expiry"] = expiry_raw
    terms = SubscriptionTerms(username, low, high, posts, old_posts, delay, expiry)
    return Placement(None, 0, kind="subscription", units=0, params=extra, subscription=terms)


def _optional_int(params: dict[str, str], name: str, low: int) -> int | None:
    if not params.get(name, "").strip():
        return None
    return _required_int(params, name, low=low)
