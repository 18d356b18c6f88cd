"""`add` for every service type: the required parameters and their error messages."""

from __future__ import annotations

from typing import Any

import pytest

from smmpanel.simulator.catalog import SERVICE_TYPES, builtin_catalog
from smmpanel.simulator.testing import RunningSimulator
from tests.simulator.conftest import Api

LINK = "https://instagram.com/p/xyz"
NAMES = "alice\nbob\ncarol"

# type -> (service id, valid parameters, expected quantity, expected charge)
VALID: dict[str, tuple[int, dict[str, Any], int, str]] = {
    "Default": (1, {"link": LINK, "quantity": 100}, 100, "0.09000"),
    "Package": (6, {"link": LINK}, 1, "3.00000"),
    "Custom Comments": (7, {"link": LINK, "comments": "a\nb\n\nc\nd\ne\nf"}, 6, "0.04800"),
    "Custom Comments Package": (8, {"link": LINK, "comments": "a\nb"}, 1, "2.50000"),
    "Mentions": (9, {"link": LINK, "quantity": 100, "usernames": NAMES}, 100, "0.40000"),
    "Mentions with Hashtags": (
        10,
        {"link": LINK, "quantity": 100, "usernames": NAMES, "hashtags": "#a\n#b"},
        100,
        "0.50000",
    ),
    "Mentions Custom List": (11, {"link": LINK, "usernames": NAMES}, 3, "0.01800"),
    "Mentions Hashtag": (12, {"link": LINK, "quantity": 100, "hashtag": "#cats"}, 100, "0.45000"),
    "Mentions User Followers": (
        13,
        {"link": LINK, "quantity": 100, "username": "nasa"},
        100,
        "0.45000",
    ),
    "Mentions Media Likers": (14, {"link": LINK, "quantity": 100, "media": LINK}, 100, "0.45000"),
    "Comment Likes": (15, {"link": LINK, "quantity": 20, "username": "dave"}, 20, "0.06000"),
    "Comment Replies": (16, {"link": LINK, "username": "erin", "comments": "hi\nyo"}, 2, "0.01800"),
    "Poll": (17, {"link": LINK, "quantity": 100, "answer_number": 2}, 100, "0.20000"),
    "Invites from Groups": (
        18,
        {"link": LINK, "quantity": 100, "groups": "g1\ng2"},
        100,
        "0.70000",
    ),
    "SEO": (19, {"link": LINK, "quantity": 1000, "keywords": "cats, dogs"}, 1000, "1.20000"),
    "Web Traffic": (
        20,
        {"link": LINK, "quantity": 500, "country": "US", "device": 1, "type_of_traffic": 3},
        500,
        "0.30000",
    ),
    "Subscriptions": (
        21,
        {
            "username": "frank",
            "min": 50,
            "max": 100,
            "posts": 5,
            "delay": 30,
            "expiry": "31/12/2099",
        },
        0,
        "0.00000",
    ),
}

# (type, parameter to drop or change, value or None to drop, expected error)
INVALID: list[tuple[str, str, Any, str]] = [
    ("Default", "link", None, "Incorrect link"),
    ("Default", "quantity", None, "Incorrect request"),
    ("Package", "link", "", "Incorrect link"),
    ("Custom Comments", "comments", None, "Incorrect request"),
    ("Custom Comments", "comments", "a\nb", "Quantity less than minimal 5"),
    ("Custom Comments Package", "comments", None, "Incorrect request"),
    ("Mentions", "usernames", None, "Incorrect request"),
    ("Mentions", "quantity", 99, "Quantity less than minimal 100"),
    ("Mentions with Hashtags", "hashtags", None, "Incorrect request"),
    ("Mentions Custom List", "usernames", None, "Incorrect request"),
    (
        "Mentions Custom List",
        "usernames",
        "\n".join(f"u{n}" for n in range(1001)),
        "Quantity more than maximum 1000",
    ),
    ("Mentions Hashtag", "hashtag", None, "Incorrect request"),
    ("Mentions User Followers", "username", None, "Incorrect request"),
    ("Mentions Media Likers", "media", None, "Incorrect request"),
    ("Comment Likes", "username", None, "Incorrect request"),
    ("Comment Replies", "comments", None, "Incorrect request"),
    ("Comment Replies", "username", None, "Incorrect request"),
    ("Poll", "answer_number", None, "Incorrect request"),
    ("Poll", "answer_number", "first", "Incorrect request"),
    ("Invites from Groups", "groups", None, "Incorrect request"),
    ("SEO", "keywords", None, "Incorrect request"),
    ("Web Traffic", "country", None, "Incorrect request"),
    ("Web Traffic", "device", 6, "Incorrect request"),
    ("Web Traffic", "type_of_traffic", 4, "Incorrect request"),
    ("Web Traffic", "type_of_traffic", 1, "Incorrect request"),  # google_keyword missing
    ("Web Traffic", "type_of_traffic", 2, "Incorrect request"),  # referring_url missing
    ("Subscriptions", "username", None, "Incorrect request"),
    ("Subscriptions", "min", None, "Incorrect request"),
    ("Subscriptions", "max", None, "Incorrect request"),
    ("Subscriptions", "min", 40, "Quantity less than minimal 50"),
    ("Subscriptions", "max", 5001, "Quantity more than maximum 5000"),
    ("Subscriptions", "min", 200, "Incorrect request"),  # min > max
    ("Subscriptions", "delay", 7, "Incorrect request"),
    ("Subscriptions", "expiry", "2099-12-31", "Incorrect request"),
]


def test_every_type_has_a_case() -> None:
    assert set(VALID) == set(SERVICE_TYPES)
    catalog = {s.id: s.type for s in builtin_catalog()}
    assert all(catalog[sid] == kind for kind, (sid, *_rest) in VALID.items())


@pytest.mark.parametrize("kind", sorted(VALID))
def test_add_valid(api: Api, sim: RunningSimulator, kind: str) -> None:
    service, params, quantity, charge = VALID[kind]
    answer = api.add(service, **params)
    assert set(answer) == {"order"}, answer
    order = sim.state.orders[answer["order"]]
    assert (order.type, order.quantity) == (kind, quantity)
    assert api("status", order=order.id)["charge"] == charge
    for name in set(params) - {"link", "quantity"}:
        assert name in order.params


@pytest.mark.parametrize(("kind", "name", "value", "error"), INVALID)
def test_add_invalid(
    api: Api, sim: RunningSimulator, kind: str, name: str, value: Any, error: str
) -> None:
    service, params, _quantity, _charge = VALID[kind]
    params = dict(params)
    if value is None:
        params.pop(name)
    else:
        params[name] = value
    assert api.add(service, **params) == {"error": error}
    assert sim.state.orders == {}
    assert api("balance")["balance"] == "1000.00000"


def test_web_traffic_keyword_and_referrer(api: Api, sim: RunningSimulator) -> None:
    base = {"link": LINK, "quantity": 500, "country": "US", "device": 2}
    first = api.add(20, **base, type_of_traffic=1, google_keyword="best cats")["order"]
    second = api.add(20, **base, type_of_traffic=2, referring_url="https://ref")["order"]
    assert sim.state.orders[first].params["google_keyword"] == "best cats"
    assert sim.state.orders[second].params["referring_url"] == "https://ref"
    drip = api.add(20, **base, type_of_traffic=3, runs=2, interval=60)["order"]
    assert sim.state.orders[drip].quantity == 1000


def test_service_without_link(api: Api, sim: RunningSimulator) -> None:
    order_id = api.add(22, quantity=10)["order"]
    assert sim.state.orders[order_id].link is None
