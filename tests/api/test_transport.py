"""How requests reach the panel: PHP-style form bodies, JSON bodies, query
strings, their merge (the body wins), and what every answer looks like."""

from __future__ import annotations

import json

import httpx

from smmpanel.db import Database
from smmpanel.orders.models import Order
from tests.api.helpers import ENDPOINT, Api, answer, balance_text, php_form
from tests.factories import make_customer, make_service

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _order_params(db: Database, order_id: int) -> dict:
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return dict(order.params)


def test_php_form_spaces_as_plus_and_newlines_as_0a(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Comments", type="Custom Comments", rate="8", min_quantity=2)
    comments = "Nice post\nGreat work!\n\n  Love it  \r\nLast one"
    body = php_form(
        {
            "key": customer.key,
            "action": "add",
            "service": 1,
            "link": "https://instagram.com/p/abc",
            "comments": comments,
        }
    )
    # Exactly what PHP's urlencode() sends.
    assert "comments=Nice+post%0AGreat+work%21%0A%0A++Love+it++%0D%0ALast+one" in body
    assert answer(http.post(ENDPOINT, content=body, headers=FORM)) == {"order": 1}
    assert _order_params(db, 1)["comments"] == ["Nice post", "Great work!", "Love it", "Last one"]
    status = Api(http, customer.key)("status", order=1)
    assert status["remains"] == "4"
    assert status["charge"] == "0.03200"  # 4 x 8 / 1000


def test_form_with_charset_and_without_content_type(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    body = f"key={customer.key}&action=balance"
    for headers in (
        {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
        {"Content-Type": "text/plain"},
        {},
    ):
        response = http.post(ENDPOINT, content=body, headers=headers)
        assert answer(response) == {"balance": "100.00000", "currency": "USD"}
    # A JSON object is recognised even when the client forgets its Content-Type.
    raw = json.dumps({"key": customer.key, "action": "balance"})
    assert answer(http.post(ENDPOINT, content=raw)) == {"balance": "100.00000", "currency": "USD"}


def test_query_and_body_merge_body_wins(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db)
    query = {"key": "wrong-key", "action": "balance"}
    # Body key and action override the query's.
    form = f"key={customer.key}&action=services"
    services = answer(http.post(ENDPOINT, params=query, content=form, headers=FORM))
    assert [s["service"] for s in services] == [1]
    as_json = json.dumps({"key": customer.key, "action": "services"})
    services = answer(
        http.post(
            ENDPOINT, params=query, content=as_json, headers={"Content-Type": "application/json"}
        )
    )
    assert [s["service"] for s in services] == [1]
    # Parameters only in the query still count.
    placed = answer(
        http.post(
            ENDPOINT,
            params={"key": customer.key, "quantity": "5000", "link": "https://x.com/q"},
            content=json.dumps({"action": "add", "service": 1, "quantity": 100}),
            headers={"Content-Type": "application/json"},
        )
    )
    assert placed == {"order": 1}
    status = Api(http, customer.key)("status", order=1)
    assert status["remains"] == "100"  # the body's quantity, not the query's
    assert balance_text(db, customer.id) == "99.91000"


def test_lenient_parsing(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db)
    api = Api(http, customer.key, "form")
    # Numbers as strings with spaces; ids with optional spaces.
    assert api("add", service=" 1 ", link=" https://x.com/a ", quantity=" 100 ") == {"order": 1}
    assert list(api("status", orders=" 1 , 2 ")) == ["1", "2"]
    japi = Api(http, customer.key, "json")
    # Numbers as numbers, ids as a JSON array.
    assert japi("add", service=1, link="https://x.com/b", quantity=100.0) == {"order": 2}
    assert japi("status", orders=[1, 2, 3]) == {
        "1": japi("status", order=1),
        "2": japi("status", order=2),
        "3": {"error": "Incorrect order ID"},
    }
    # The trailing-slash endpoint is the same endpoint.
    response = http.get(ENDPOINT + "/", params={"key": customer.key, "action": "balance"})
    assert answer(response) == {"balance": "99.82000", "currency": "USD"}


def test_unreadable_bodies_answer_200_json(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    json_type = {"Content-Type": "application/json"}
    for body in ("{not json", "[1, 2]", '"text"', "{" * 5000 + "}" * 5000):
        response = http.post(ENDPOINT, content=body, headers=json_type)
        reply = answer(response)
        assert reply["error"] == "Incorrect request"
        assert reply["detail"]
    # GET with no parameters at all.
    assert answer(http.get(ENDPOINT)) == {"error": "Invalid API key"}
    # Invalid UTF-8 does not break the endpoint.
    bad = b"key=" + customer.key.encode() + b"&action=balance&x=\xff\xfe"
    assert answer(http.post(ENDPOINT, content=bad, headers=FORM))["balance"] == "100.00000"


def test_body_too_large_is_413_json(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    body = f"key={customer.key}&action=balance&pad=" + "x" * 1_100_000
    response = http.post(ENDPOINT, content=body, headers=FORM)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": "Request body too large"}


def test_answers_are_utf8_json(db: Database, http: httpx.Client) -> None:
    customer = make_customer(db)
    make_service(db, name="Подписчики ❤", category="Телеграм")
    response = http.get(ENDPOINT, params={"key": customer.key, "action": "services"})
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert "Подписчики ❤".encode() in response.content  # raw UTF-8, not \\u escapes
    entry = answer(response)[0]
    assert (entry["name"], entry["category"]) == ("Подписчики ❤", "Телеграм")
