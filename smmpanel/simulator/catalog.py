"""The simulator's built-in service catalog: one or more services of every service type.

Ids are stable (1..N in the order below) so tests and demos can refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

# Canonical service type names, exactly as docs/api.md spells them.
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

SERVICE_TYPES: tuple[str, ...] = (
    DEFAULT,
    PACKAGE,
    CUSTOM_COMMENTS,
    CUSTOM_COMMENTS_PACKAGE,
    MENTIONS,
    MENTIONS_WITH_HASHTAGS,
    MENTIONS_CUSTOM_LIST,
    MENTIONS_HASHTAG,
    MENTIONS_USER_FOLLOWERS,
    MENTIONS_MEDIA_LIKERS,
    COMMENT_LIKES,
    COMMENT_REPLIES,
    POLL,
    INVITES_FROM_GROUPS,
    SEO,
    WEB_TRAFFIC,
    SUBSCRIPTIONS,
)

# Types whose orders are a fixed package: charge = rate (the package price), quantity 1.
PACKAGE_TYPES = frozenset({PACKAGE, CUSTOM_COMMENTS_PACKAGE})


@dataclass(frozen=True)
class Service:
    """One service of the simulated provider."""

    id: int
    name: str
    type: str
    rate: Decimal  # price per 1000 units (for package types: the package price)
    min: int
    max: int
    category: str
    dripfeed: bool = False
    refill: bool = False
    cancel: bool = False
    needs_link: bool = True

    def to_api(self, *, lowercase_type: bool = False) -> dict[str, Any]:
        """The `services` entry for this service."""
        return {
            "service": self.id,
            "name": self.name,
            "type": self.type.lower() if lowercase_type else self.type,
            "rate": format_rate(self.rate),
            "min": str(self.min),
            "max": str(self.max),
            "dripfeed": self.dripfeed,
            "refill": self.refill,
            "cancel": self.cancel,
            "category": self.category,
        }

    def with_changes(self, **changes: Any) -> Service:
        return replace(self, **changes)


def format_rate(rate: Decimal) -> str:
    """A rate as panels print it: at least two decimals, no trailing noise."""
    text = format(rate.normalize(), "f")
    if "." not in text:
        return text + ".00"
    whole, frac = text.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _svc(
    sid: int,
    name: str,
    type_: str,
    rate: str,
    min_: int,
    max_: int,
    category: str,
    **flags: bool,
) -> Service:
    return Service(sid, name, type_, Decimal(rate), min_, max_, category, **flags)


def builtin_catalog() -> list[Service]:
    """A fresh copy of the built-in catalog (ids 1..N)."""
    return [
        _svc(
            1,
            "Instagram Followers [Refill 30 days]",
            DEFAULT,
            "0.90",
            50,
            10000,
            "Instagram Followers",
            dripfeed=True,
            refill=True,
            cancel=True,
        ),
        _svc(
            2,
            "Instagram Likes",
            DEFAULT,
            "0.25",
            10,
            50000,
            "Instagram Likes",
            dripfeed=True,
            cancel=True,
        ),
        _svc(
            3,
            "YouTube Views [Refill 60 days]",
            DEFAULT,
            "1.50",
            100,
            1000000,
            "YouTube Views",
            dripfeed=True,
            refill=True,
        ),
        _svc(4, "Twitter Followers [No refill]", DEFAULT, "2.10", 100, 20000, "Twitter Followers"),
        _svc(
            5, "TikTok Views [Cheap]", DEFAULT, "0.0123", 100, 10000000, "TikTok Views", cancel=True
        ),
        _svc(
            6, "Instagram Likes Package [1000 likes]", PACKAGE, "3.00", 1, 1, "Instagram Packages"
        ),
        _svc(
            7,
            "Instagram Custom Comments",
            CUSTOM_COMMENTS,
            "8.00",
            5,
            15000,
            "Instagram Comments",
            cancel=True,
        ),
        _svc(
            8,
            "Instagram Custom Comments Package [10 comments]",
            CUSTOM_COMMENTS_PACKAGE,
            "2.50",
            1,
            1,
            "Instagram Packages",
        ),
        _svc(9, "Instagram Mentions", MENTIONS, "4.00", 100, 10000, "Instagram Mentions"),
        _svc(
            10,
            "Instagram Mentions with Hashtags",
            MENTIONS_WITH_HASHTAGS,
            "5.00",
            100,
            10000,
            "Instagram Mentions",
        ),
        _svc(
            11,
            "Instagram Mentions [Custom List]",
            MENTIONS_CUSTOM_LIST,
            "6.00",
            1,
            1000,
            "Instagram Mentions",
        ),
        _svc(
            12,
            "Instagram Mentions [Hashtag]",
            MENTIONS_HASHTAG,
            "4.50",
            100,
            10000,
            "Instagram Mentions",
        ),
        _svc(
            13,
            "Instagram Mentions [User Followers]",
            MENTIONS_USER_FOLLOWERS,
            "4.50",
            100,
            10000,
            "Instagram Mentions",
        ),
        _svc(
            14,
            "Instagram Mentions [Media Likers]",
            MENTIONS_MEDIA_LIKERS,
            "4.50",
            100,
            10000,
            "Instagram Mentions",
        ),
        _svc(15, "Instagram Comment Likes", COMMENT_LIKES, "3.00", 20, 5000, "Instagram Comments"),
        _svc(
            16, "Instagram Comment Replies", COMMENT_REPLIES, "9.00", 1, 1000, "Instagram Comments"
        ),
        _svc(17, "Twitter Poll Votes", POLL, "2.00", 100, 50000, "Twitter Polls", cancel=True),
        _svc(
            18,
            "Telegram Invites from Groups",
            INVITES_FROM_GROUPS,
            "7.00",
            100,
            20000,
            "Telegram Members",
        ),
        _svc(19, "SEO Keyword Traffic", SEO, "1.20", 1000, 100000, "Website Traffic"),
        _svc(
            20,
            "Website Traffic [Worldwide]",
            WEB_TRAFFIC,
            "0.60",
            500,
            1000000,
            "Website Traffic",
            dripfeed=True,
        ),
        _svc(
            21,
            "Instagram Auto Likes [Subscription]",
            SUBSCRIPTIONS,
            "0.30",
            50,
            5000,
            "Instagram Auto Likes",
            cancel=True,
        ),
        _svc(
            22,
            "Panel Test Credits [No link]",
            DEFAULT,
            "1.00",
            1,
            100000,
            "Other",
            needs_link=False,
        ),
    ]
