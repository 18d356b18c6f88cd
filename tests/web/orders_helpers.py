"""Shared by the orders pages' tests: a logged-in customer, one service of each
type, and the valid parameters of an order of each."""

from __future__ import annotations

import re
from typing import Any

from smmpanel.accounts.passwords import set_password
from smmpanel.catalog.types import SERVICE_TYPES
from smmpanel.db import Database
from tests.factories import make_customer, make_service
from tests.web.conftest import PASSWORD, Browser

CHARGE = re.compile(r'id="charge-amount">([0-9.]+) ([A-Z]+)<')

# Valid parameters of an order of each type (beside the link, for those with one).
VALID: dict[str, dict[str, str]] = {
    "Default": {"quantity": "100"},
    "Package": {},
    "Custom Comments": {"comments": "nice\ngreat\nwow"},
    "Custom Comments Package": {"comments": "one\ntwo"},
    "Mentions": {"quantity": "50", "usernames": "ann\nbob"},
    "Mentions with Hashtags": {"quantity": "50", "usernames": "ann", "hashtags": "#a\n#b"},
    "Mentions Custom List": {"usernames": "ann\nbob\ncid\ndan"},
    "Mentions Hashtag": {"quantity": "40", "hashtag": "#sun"},
    "Mentions User Followers": {"quantity": "40", "username": "celeb"},
    "Mentions Media Likers": {"quantity": "40", "media": "https://example.com/p/1"},
    "Comment Likes": {"quantity": "40", "username": "someone"},
    "Comment Replies": {"username": "someone", "comments": "hi\nthere"},
    "Poll": {"quantity": "70", "answer_number": "2"},
    "Invites from Groups": {"quantity": "30", "groups": "g1\ng2"},
    "SEO": {"quantity": "30", "keywords": "smm, panel"},
    "Web Traffic": {
        "quantity": "500",
        "country": "US",
        "device": "2",
        "type_of_traffic": "1",
        "google_keyword": "buy likes",
    },
    "Subscriptions": {"username": "watched", "min": "10", "max": "20", "posts": "3", "delay": "30"},
}


def services_of_every_type(db: Database) -> dict[str, int]:
    """One service per type (drip-feed allowed where the type has it); name -> id."""
    return {
        kind.name: make_service(
            db,
            name=f"{kind.name} service",
            type=kind.name,
            category="Every type",
            rate="1.30",
            min_quantity=1,
            max_quantity=10_000,
            dripfeed=kind.dripfeed,
            refill=True,
            cancel=True,
        )
        for kind in SERVICE_TYPES
    }


def logged_in(
    db: Database, browser_factory: Any, username: str = "alice", balance: str = "1000"
) -> tuple[Browser, int]:
    customer = make_customer(db, username=username, balance=balance)
    set_password(db, username=username, password=PASSWORD)
    browser: Browser = browser_factory()
    assert browser.log_in(username).status_code == 303
    return browser, customer.id


def order_form(service_id: int, kind: str, link: str) -> dict[str, str]:
    values = {"service": str(service_id), **VALID[kind]}
    if kind != "Subscriptions":
        values["link"] = link
    return values
