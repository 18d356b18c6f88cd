"""The service types of API v2 and the parameters each takes on ``add``.

``quantity`` says where an order's quantity comes from:

- ``param``: the ``quantity`` parameter;
- ``comments`` / ``usernames``: the number of non-empty lines of that parameter;
- ``package``: a package is bought whole; its rate is the package price;
- ``subscription``: no quantity; ``min``/``max`` per future post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smmpanel.catalog.errors import UnknownServiceType


@dataclass(frozen=True)
class ServiceType:
    name: str
    quantity: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    dripfeed: bool = False

    @property
    def is_package(self) -> bool:
        return self.quantity == "package"


# The `delay` (minutes) a Subscriptions order may ask for, as docs/api.md lists them.
SUBSCRIPTION_DELAYS = frozenset(
    (0, 5, 10, 15, 20, *range(30, 61, 10), *range(90, 301, 30), *range(360, 601, 60))
)

DEFAULT = "Default"
SUBSCRIPTIONS = "Subscriptions"

SERVICE_TYPES: tuple[ServiceType, ...] = (
    ServiceType(DEFAULT, "param", dripfeed=True),
    ServiceType("Package", "package"),
    ServiceType("Custom Comments", "comments", required=("comments",)),
    ServiceType("Custom Comments Package", "package", required=("comments",)),
    ServiceType("Mentions", "param", required=("usernames",)),
    ServiceType("Mentions with Hashtags", "param", required=("usernames", "hashtags")),
    ServiceType("Mentions Custom List", "usernames", required=("usernames",)),
    ServiceType("Mentions Hashtag", "param", required=("hashtag",)),
    ServiceType("Mentions User Followers", "param", required=("username",)),
    ServiceType("Mentions Media Likers", "param", required=("media",)),
    ServiceType("Comment Likes", "param", required=("username",)),
    ServiceType("Comment Replies", "comments", required=("username", "comments")),
    ServiceType("Poll", "param", required=("answer_number",)),
    ServiceType("Invites from Groups", "param", required=("groups",)),
    ServiceType("SEO", "param", required=("keywords",)),
    ServiceType(
        "Web Traffic",
        "param",
        optional=("country", "device", "type_of_traffic", "google_keyword", "referring_url"),
        dripfeed=True,
    ),
    ServiceType(
        SUBSCRIPTIONS,
        "subscription",
        required=("username", "min", "max"),
        optional=("posts", "old_posts", "delay", "expiry"),
    ),
)

_BY_KEY = {re.sub(r"\s+", " ", t.name.strip().lower()): t for t in SERVICE_TYPES}
TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in SERVICE_TYPES)


def service_type(name: str) -> ServiceType:
    """Look a type up by name, ignoring case and surrounding/repeated spaces."""
    key = re.sub(r"\s+", " ", (name or "").strip().lower())
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownServiceType(
            f"unknown service type {name!r}; known types: {', '.join(TYPE_NAMES)}"
        ) from None
