"""`add` for every service type with the parameters of docs/api.md, and every
refusal of `add` with its exact message.  A refusal never charges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smmpanel.catalog.types import SERVICE_TYPES
from smmpanel.db import Database
from smmpanel.orders.models import Order
from smmpanel.orders.service import update_order
from smmpanel.panel.settings import put_setting
from tests.api.helpers import Api, assert_ledger_consistent, balance_text
from tests.factories import make_customer, make_service

LINK = "https://instagram.com/p/abc"
DUPLICATE = "You have active order with this link. Please wait until order being completed."


@dataclass(frozen=True)
class TypeCase:
    params: dict[str, Any]
    remains: str
    charge: str  # at rate 2 per 1000
    required: tuple[str, ...]
    # Where the quantity comes from: the quantity parameter, lines of a
    # parameter, min/max (subscriptions), or nowhere (packages).
    bounded_by: str | None
    stored: dict[str, Any] = field(default_factory=dict)


# Services are made with rate 2, min 2, max 1000.
CASES: dict[str, TypeCase] = {
    "Default": TypeCase(
        {"link": LINK, "quantity": 100}, "100", "0.20000", ("link", "quantity"), "quantity"
    ),
    "Package": TypeCase({"link": LINK}, "1", "2.00000", ("link",), None),
    "Custom Comments": TypeCase(
        {"link": LINK, "comments": "one\ntwo\nthree"},
        "3",
        "0.00600",
        ("link", "comments"),
        "comments",
        {"comments": ["one", "two", "three"]},
    ),
    "Custom Comments Package": TypeCase(
        {"link": LINK, "comments": "one\ntwo\nthree"},
        "3",
        "2.00000",
        ("link", "comments"),
        None,
        {"comments": ["one", "two", "three"]},
    ),
    "Mentions": TypeCase(
        {"link": LINK, "quantity": 100, "usernames": "ann\nbob"},
        "100",
        "0.20000",
        ("link", "quantity", "usernames"),
        "quantity",
        {"usernames": ["ann", "bob"]},
    ),
    "Mentions with Hashtags": TypeCase(
        {"link": LINK, "quantity": 100, "usernames": "ann\nbob", "hashtags": "#a\n#b"},
        "100",
        "0.20000",
        ("link", "quantity", "usernames", "hashtags"),
        "quantity",
        {"usernames": ["ann", "bob"], "hashtags": ["#a", "#b"]},
    ),
    "Mentions Custom List": TypeCase(
        {"link": LINK, "usernames": "ann\n\nbob\ncid\n"},
        "3",
        "0.00600",
        ("link", "usernames"),
        "usernames",
        {"usernames": ["ann", "bob", "cid"]},
    ),
    "Mentions Hashtag": TypeCase(
        {"link": LINK, "quantity": 100, "hashtag": "#tag"},
        "100",
        "0.20000",
        ("link", "quantity", "hashtag"),
        "quantity",
        {"hashtag": "#tag"},
    ),
    "Mentions User Followers": TypeCase(
        {"link": LINK, "quantity": 100, "username": "someone"},
        "100",
        "0.20000",
        ("link", "quantity", "username"),
        "quantity",
        {"username": "someone"},
    ),
    "Mentions Media Likers": TypeCase(
        {"link": LINK, "quantity": 100, "media": "https://instagram.com/p/m"},
        "100",
        "0.20000",
        ("link", "quantity", "media"),
        "quantity",
        {"media": "https://instagram.com/p/m"},
    ),
    "Comment Likes": TypeCase(
        {"link": LINK, "quantity": 100, "username": "someone"},
        "100",
        "0.20000",
        ("link", "quantity", "username"),
        "quantity",
        {"username": "someone"},
    ),
    "Comment Replies": TypeCase(
        {"link": LINK, "username": "someone", "comments": "hi\nthere"},
        "2",
        "0.00400",
        ("link", "username", "comments"),
        "comments",
        {"username": "someone", "comments": ["hi", "there"]},
    ),
    "Poll": TypeCase(
        {"link": LINK, "quantity": 100, "answer_number": 2},
        "100",
        "0.20000",
        ("link", "quantity", "answer_number"),
        "quantity",
        {"answer_number": 2},
    ),
    "Invites from Groups": TypeCase(
        {"link": LINK, "quantity": 100, "groups": "g1\ng2"},
        "100",
        "0.20000",
        ("link", "quantity", "groups"),
        "quantity",
        {"groups": ["g1", "g2"]},
    ),
    "SEO": TypeCase(
        {"link": LINK, "quantity": 100, "keywords": "smm, panel\nbest"},
        "100",
        "0.20000",
        ("link", "quantity", "keywords"),
        "quantity",
        {"keywords": ["smm", "panel", "best"]},
    ),
    "Web Traffic": TypeCase(
        {"link": LINK, "quantity": 100}, "100", "0.20000", ("link", "quantity"), "quantity"
    ),
    "Subscriptions": TypeCase(
        {"username": "someone", "min": 10, "max": 100},
        "100",
        "0.00000",
        ("username", "min", "max"),
        "subscription",
        {"username": "someone", "min": 10, "max": 100, "delay": 0, "posts": None},
    ),
}


def test_every_service_type_has_a_case() -> None:
    assert sorted(CASES) == sorted(t.name for t in SERVICE_TYPES)


def _stored_params(db: Database, order_id: int) -> dict[str, Any]:
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return dict(order.params)


def _order_count(db: Database) -> int:
    with db.read() as session:
        return len(session.query(Order.id).all())


def _lines(n: int) -> str:
    return "\n".join(f"line {i}" for i in range(n))


@pytest.mark.parametrize("type_name", sorted(CASES))
def test_service_type(db: Database, http: httpx.Client, type_name: str) -> None:
    case = CASES[type_name]
    customer = make_customer(db)
    make_service(db, name=type_name, type=type_name, rate="2", min_quantity=2, max_quantity=1000)
    api = Api(http, customer.key)

    assert api("add", service=1, **case.params) == {"order": 1}
    status = api("status", order=1)
    assert (status["charge"], status["remains"], status["status"]) == (
        case.charge,
        case.remains,
        "Pending",
    )
    stored = _stored_params(db, 1)
    for name, value in case.stored.items():
        assert stored[name] == value, name
    after_first = balance_text(db, customer.id)
    assert after_first == f"{100 - Decimal(case.charge):.5f}"

    refusals: list[tuple[dict[str, Any], dict[str, str]]] = []
    for name in case.required:
        for missing in (
            {k: v for k, v in case.params.items() if k != name},
            {**case.params, name: "  "},
        ):
            if name == "link":
                refusals.append((missing, {"error": "Incorrect link"}))
            else:
                refusals.append((missing, {"error": "Incorrect request", "detail": name}))
    low, high = "Quantity less than minimal 2", "Quantity more than maximum 1000"
    if case.bounded_by == "quantity":
        refusals += [({**case.params, "quantity": 1}, {"error": low})]
        refusals += [({**case.params, "quantity": 1001}, {"error": high})]
    elif case.bounded_by == "subscription":
        refusals += [({**case.params, "min": 1}, {"error": low})]
        refusals += [({**case.params, "max": 1001}, {"error": high})]
    elif case.bounded_by is not None:
        refusals += [({**case.params, case.bounded_by: "only one"}, {"error": low})]
        refusals += [({**case.params, case.bounded_by: _lines(1001)}, {"error": high})]
    for params, expected in refusals:
        if params.get("link", "").strip():
            # A fresh link: the refusal must come from the parameter under test,
            # not from the duplicate-link rule (order 1 is active on LINK).
            params = {**params, "link": params["link"] + "/2"}
        got = api("add", service=1, **params)
        assert got["error"] == expected["error"], (params, got)
        if "detail" in expected:
            assert expected["detail"] in got["detail"], (params, got)
        else:
            assert set(got) == {"error"}
    assert balance_text(db, customer.id) == after_first
    assert _order_count(db) == 1
    assert_ledger_consistent(db)


def test_packages_ignore_quantity_and_cost_their_rate(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Pack", type="Package", rate="12.5", min_quantity=1, max_quantity=10)
    make_service(db, name="Comment pack", type="Custom Comments Package", rate="7", min_quantity=1)
    api = Api(http, customer.key, "json")
    assert api("add", service=1, link=LINK, quantity=999_999) == {"order": 1}
    assert api("add", service=2, link=LINK, comments=_lines(40)) == {"order": 2}
    assert api("status", order=1)["charge"] == "12.50000"
    assert api("status", order=2)["charge"] == "7.00000"
    assert api("balance")["balance"] == "80.50000"


def test_comments_count_non_empty_lines(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="C", type="Custom Comments", rate="1000", min_quantity=3, max_quantity=4)
    api = Api(http, customer.key)
    text = "\r\n first \r\n\r\n   \nsecond\rthird\n\n"
    # The quantity parameter does not count: the lines do.
    assert api("add", service=1, link=LINK, comments=text, quantity=500) == {"order": 1}
    assert _stored_params(db, 1)["comments"] == ["first", "second", "third"]
    assert api("status", order=1)["remains"] == "3"
    assert api("status", order=1)["charge"] == "3.00000"
    too_few = api("add", service=1, link=LINK + "/2", comments="a\n\n \nb")
    assert too_few == {"error": "Quantity less than minimal 3"}
    too_many = api("add", service=1, link=LINK + "/2", comments="a\nb\nc\nd\ne")
    assert too_many == {"error": "Quantity more than maximum 4"}
    # A JSON array of comments is one line each.
    japi = Api(http, customer.key, "json")
    assert japi("add", service=1, link=LINK + "/3", comments=["x", "y", "", "z"]) == {"order": 2}
    assert _stored_params(db, 2)["comments"] == ["x", "y", "z"]


def test_poll_answer_number(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Poll", type="Poll", min_quantity=1)
    api = Api(http, customer.key)
    for bad in ("0", "-1", "abc", "1.5", ""):
        got = api("add", service=1, link=LINK, quantity=10, answer_number=bad)
        assert got["error"] == "Incorrect request" and "answer_number" in got["detail"], bad
    assert api("add", service=1, link=LINK, quantity=10, answer_number=" 3 ") == {"order": 1}
    assert _stored_params(db, 1)["answer_number"] == 3


def test_web_traffic_options(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Traffic", type="Web Traffic", rate="1", min_quantity=10, dripfeed=True)
    api = Api(http, customer.key)
    base = {"service": 1, "quantity": 100}
    refused = [
        ({"device": "0"}, "device"),
        ({"device": "6"}, "device"),
        ({"device": "phone"}, "device"),
        ({"type_of_traffic": "0"}, "type_of_traffic"),
        ({"type_of_traffic": "4"}, "type_of_traffic"),
        ({"type_of_traffic": "1"}, "google_keyword"),
        ({"type_of_traffic": "2"}, "referring_url"),
        ({"type_of_traffic": "2", "google_keyword": "smm"}, "referring_url"),
    ]
    for extra, detail in refused:
        got = api("add", link=LINK, **base, **extra)
        assert got["error"] == "Incorrect request" and detail in got["detail"], extra
    bad_referrer = api("add", link=LINK, **base, type_of_traffic=2, referring_url="no such url")
    assert bad_referrer == {"error": "Incorrect link"}

    accepted = [
        {"device": "1", "type_of_traffic": "1", "google_keyword": "best smm panel"},
        {"device": "5", "type_of_traffic": "2", "referring_url": "https://google.com/"},
        {"type_of_traffic": "3", "country": "US"},
        {},
    ]
    for n, extra in enumerate(accepted, start=1):
        assert api("add", link=f"{LINK}/{n}", **base, **extra) == {"order": n}
    assert _stored_params(db, 1) == {
        "device": 1,
        "type_of_traffic": 1,
        "google_keyword": "best smm panel",
    }
    assert _stored_params(db, 2)["referring_url"] == "https://google.com/"
    assert _stored_params(db, 3) == {"type_of_traffic": 3, "country": "US"}
    # Web Traffic drip-feeds too.
    placed = api("add", link=f"{LINK}/9", **base, runs=2, interval=60, device=2)
    assert placed == {"order": 5}
    assert api("status", order=5)["charge"] == "0.20000"


def test_subscriptions(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Auto", type="Subscriptions", rate="3", min_quantity=50, max_quantity=500)
    api = Api(http, customer.key)
    base = {"service": 1, "username": "someone", "min": 50, "max": 200}
    future = (date.today() + timedelta(days=40)).strftime("%d/%m/%Y")
    accepted = api("add", **base, posts=5, old_posts=2, delay=30, expiry=future)
    assert accepted == {"order": 1}
    stored = _stored_params(db, 1)
    assert stored["posts"] == 5 and stored["old_posts"] == 2 and stored["delay"] == 30
    assert stored["expiry"] == (date.today() + timedelta(days=40)).isoformat()
    assert stored["min"] == 50 and stored["max"] == 200
    # Charged per post later: nothing at placement, and no link needed.
    assert api("status", order=1)["charge"] == "0.00000"
    assert api("balance")["balance"] == "100.00000"
    for delay in (0, 5, 90, 600):
        assert "order" in api("add", **base, delay=delay)
    # Not a duplicate-link matter: the same username twice is fine.
    assert "order" in api("add", **base)

    refused: list[tuple[dict[str, Any], str]] = [
        ({"delay": 7}, "delay"),
        ({"delay": 601}, "delay"),
        ({"posts": 0}, "posts"),
        ({"min": 300, "max": 200}, "min"),
        ({"expiry": "2030-12-31"}, "expiry"),
        ({"expiry": "31/02/2030"}, "expiry"),
        ({"expiry": "01/01/2000"}, "expiry"),
    ]
    for extra, detail in refused:
        got = api("add", **{**base, **extra})
        assert got["error"] == "Incorrect request" and detail in got["detail"], extra
    assert api("add", **{**base, "min": 49}) == {"error": "Quantity less than minimal 50"}
    assert api("add", **{**base, "max": 501}) == {"error": "Quantity more than maximum 500"}
    assert api("balance")["balance"] == "100.00000"


def test_service_without_link(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Votes", rate="1", min_quantity=10, link_required=False)
    for transport in ("form", "json", "get"):
        api = Api(http, customer.key, transport)
        assert "order" in api("add", service=1, quantity=100)
    assert api("status", order=3)["remains"] == "100"
    assert api("balance")["balance"] == "99.70000"
    # A link, when given anyway, is still checked and kept.
    assert api("add", service=1, quantity=100, link="bad link") == {"error": "Incorrect link"}
    assert api("add", service=1, quantity=100, link="t.me/channel") == {"order": 4}
    with db.read() as session:
        assert [o.link for o in session.query(Order).order_by(Order.id)] == [
            "",
            "",
            "",
            "t.me/channel",
        ]
    # The link-required default refuses the same call.
    make_service(db, name="Needs link", rate="1", min_quantity=10)
    assert api("add", service=2, quantity=100) == {"error": "Incorrect link"}


def test_dripfeed(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Drip", rate="0.90", min_quantity=100, max_quantity=1000, dripfeed=True)
    make_service(db, name="No drip", rate="0.90", min_quantity=100, max_quantity=1000)
    api = Api(http, customer.key)
    # Charged quantity x runs at placement; remains counts every run.
    assert api("add", service=1, link=LINK, quantity=1000, runs=3, interval=15) == {"order": 1}
    status = api("status", order=1)
    assert (status["charge"], status["remains"]) == ("2.70000", "3000")
    with db.read() as session:
        order = session.get(Order, 1)
        assert order is not None
        assert (order.kind, order.quantity, order.runs, order.interval) == ("dripfeed", 1000, 3, 15)
    # min and max apply to one run: 3000 in all is fine, 99 a run is not.
    low = api("add", service=1, link=LINK + "/2", quantity=99, runs=10, interval=15)
    assert low == {"error": "Quantity less than minimal 100"}
    high = api("add", service=1, link=LINK + "/2", quantity=1001, runs=2, interval=15)
    assert high == {"error": "Quantity more than maximum 1000"}
    # runs 0/1 (or empty) is an ordinary order.
    assert api("add", service=2, link=LINK + "/3", quantity=100, runs=1, interval="") == {
        "order": 2
    }
    assert api("add", service=2, link=LINK + "/4", quantity=100, runs="") == {"order": 3}
    for params, detail in (
        ({"service": 2, "runs": 2, "interval": 10}, "drip-feed"),
        ({"service": 1, "runs": 2}, "interval"),
        ({"service": 1, "runs": 2, "interval": 0}, "interval"),
        ({"service": 1, "runs": -2, "interval": 10}, "runs"),
        ({"service": 1, "runs": 1001, "interval": 10}, "runs"),
        ({"service": 1, "runs": "two", "interval": 10}, "runs"),
    ):
        got = api("add", link=LINK + "/5", quantity=100, **params)
        assert got["error"] == "Incorrect request" and detail in got["detail"], params
    assert api("balance")["balance"] == "97.12000"  # 2.7 + 0.09 + 0.09


def test_bad_links(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, min_quantity=1)
    api = Api(http, customer.key, "json")
    bad = [
        "not a link",
        "javascript:alert(1)",
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "http://",
        "https:///path",
        "x" * 2049,
        "",
        {"url": "https://x.com"},
    ]
    for link in bad:
        assert api("add", service=1, link=link, quantity=10) == {"error": "Incorrect link"}, link
    assert api("add", service=1, quantity=10) == {"error": "Incorrect link"}
    # A NUL anywhere is refused before the action (tests/api/test_http_edge.py).
    assert api("add", service=1, link="https://x.com/\x00", quantity=10)["error"] == (
        "Incorrect request"
    )
    good = ["https://instagram.com/p/x", "instagram.com/user", "@handle", "host.com:8080/p"]
    for n, link in enumerate(good, start=1):
        assert api("add", service=1, link=link, quantity=10) == {"order": n}, link
    assert api("balance")["balance"] == "99.96400"


def test_unknown_and_disabled_services(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, min_quantity=1)
    make_service(db, name="Off", min_quantity=1, enabled=False)
    api = Api(http, customer.key)
    for service in (2, 3, 0, -1, "abc", "", "1.5", "99999999999"):
        got = api("add", service=service, link=LINK, quantity=10)
        assert got == {"error": "Incorrect service ID"}, service
    no_service = Api(http, customer.key, "json")("add", link=LINK, quantity=10)
    assert no_service == {"error": "Incorrect service ID"}
    assert api("balance")["balance"] == "100.00000"


def test_not_enough_funds(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db, balance="0.09")
    make_service(db, rate="0.90", min_quantity=1)
    api = Api(http, customer.key)
    assert api("add", service=1, link=LINK, quantity=101) == {
        "error": "Not enough funds on balance"
    }
    assert _order_count(db) == 0
    # The exact balance is enough.  (A refused order may still use up an id of
    # PostgreSQL's sequence, so the id is not predictable here.)
    assert set(api("add", service=1, link=LINK, quantity=100)) == {"order"}
    assert api("balance") == {"balance": "0.00000", "currency": "USD"}
    assert api("add", service=1, link=LINK + "/2", quantity=1) == {
        "error": "Not enough funds on balance"
    }
    broke = make_customer(db, "broke", balance="0")
    refused = Api(http, broke.key)("add", service=1, link=LINK + "/3", quantity=1)
    assert refused == {"error": "Not enough funds on balance"}
    assert_ledger_consistent(db)


def test_duplicate_active_link(db: Database, http: httpx.Client) -> None:
    alice = make_customer(db)
    bob = make_customer(db, "bob")
    make_service(db, min_quantity=1)
    make_service(db, name="Other", min_quantity=1)
    a, b = Api(http, alice.key), Api(http, bob.key, "json")
    assert a("add", service=1, link=LINK, quantity=10) == {"order": 1}
    # Whichever account placed it, the same link on the same service is busy.
    assert a("add", service=1, link=LINK, quantity=20) == {"error": DUPLICATE}
    assert b("add", service=1, link=f"  {LINK} ", quantity=20) == {"error": DUPLICATE}
    assert b("balance")["balance"] == "100.00000"
    # Another service, or another link, is free.
    assert b("add", service=2, link=LINK, quantity=20) == {"order": 2}
    assert b("add", service=1, link=LINK + "/2", quantity=20) == {"order": 3}
    # In progress is still active; a final status frees the link.
    update_order(db, order_id=1, status="In progress", start_count=5)
    assert b("add", service=1, link=LINK, quantity=20) == {"error": DUPLICATE}
    active = 1
    for final, next_id in (("Completed", 4), ("Partial", 5), ("Canceled", 6)):
        remains = 5 if final == "Partial" else None
        update_order(db, order_id=active, status=final, remains=remains)
        assert b("add", service=1, link=LINK, quantity=20) == {"order": next_id}
        active = next_id
    # Switched off, the check lets duplicates through.
    with db.write() as session:
        put_setting(session, "duplicate_link_check", "off")
    assert a("add", service=1, link=LINK, quantity=30) == {"order": 7}
    assert a("add", service=1, link=LINK, quantity=30) == {"order": 8}
    assert_ledger_consistent(db)
