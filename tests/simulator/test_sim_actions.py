"""Every API v2 action over HTTP, single and multi variants, exact shapes and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from smmpanel.simulator.catalog import SERVICE_TYPES
from smmpanel.simulator.state import SimState
from smmpanel.simulator.testing import RunningSimulator
from tests.simulator.conftest import Api

SERVICE_KEYS = {
    "service",
    "name",
    "type",
    "rate",
    "min",
    "max",
    "dripfeed",
    "refill",
    "cancel",
    "category",
}
STATUS_KEYS = {"charge", "start_count", "status", "remains", "currency"}


def test_invalid_key(api: Api, sim: RunningSimulator) -> None:
    response = httpx.post(sim.api_url, data={"key": "nope", "action": "balance"})
    assert response.status_code == 200
    assert response.json() == {"error": "Invalid API key"}
    assert httpx.get(sim.api_url, params={"action": "balance"}).json() == {
        "error": "Invalid API key"
    }


def test_unknown_or_missing_action(api: Api) -> None:
    assert api("launch") == {"error": "Incorrect request"}
    assert api("") == {"error": "Incorrect request"}


@pytest.mark.parametrize("how", ["form", "json", "get"])
def test_balance_every_transport(api: Api, how: str) -> None:
    assert api("balance", how=how) == {"balance": "1000.00000", "currency": "USD"}


def test_query_and_body_are_merged_body_wins(api: Api, sim: RunningSimulator) -> None:
    response = httpx.post(
        sim.api_url,
        params={"key": sim.key, "action": "services"},
        data={"action": "balance"},
    )
    assert response.json() == {"balance": "1000.00000", "currency": "USD"}


def test_malformed_json_body(sim: RunningSimulator) -> None:
    response = httpx.post(
        sim.api_url, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.json() == {"error": "Incorrect request"}
    assert sim.control.stats()["requests"] == {"malformed": 1}
    huge = httpx.post(sim.api_url, data={"key": sim.key, "action": "balance", "x": "a" * 2**20})
    assert huge.status_code == 413 and huge.json() == {"error": "Incorrect request"}


def test_php_style_form_with_plus_and_newlines(api: Api, sim: RunningSimulator) -> None:
    body = (
        f"key={sim.key}&action=add&service=7&link=https%3A%2F%2Fig.com%2Fp%2F1"
        "&comments=great+post%0Anice%0A%0Awow%0Acool%0Afine"
    ).encode()
    response = httpx.post(
        sim.api_url, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    order_id = response.json()["order"]
    order = sim.state.orders[order_id]
    assert order.quantity == 5
    assert order.params["comments"].splitlines()[0] == "great post"


def test_services_covers_every_type(api: Api) -> None:
    services = api("services")
    assert [s["service"] for s in services] == list(range(1, len(services) + 1))
    assert all(set(s) == SERVICE_KEYS for s in services)
    assert {s["type"] for s in services} == set(SERVICE_TYPES)
    first = services[0]
    assert first == {
        "service": 1,
        "name": "Instagram Followers [Refill 30 days]",
        "type": "Default",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "dripfeed": True,
        "refill": True,
        "cancel": True,
        "category": "Instagram Followers",
    }
    assert all(isinstance(s[k], str) for s in services for k in ("rate", "min", "max"))
    assert any(s["type"] == "Default" and s["dripfeed"] for s in services)
    assert any(s["type"] == "Default" and not s["cancel"] for s in services)


def test_add_returns_integer_order_id(api: Api) -> None:
    assert api.add(1, link="https://ig/p/1", quantity=100) == {"order": 1}
    assert api.add(1, link="https://ig/p/2", quantity=100) == {"order": 2}
    assert api("balance")["balance"] == "999.82000"


def test_add_errors(api: Api, fresh: Callable[..., SimState]) -> None:
    assert api.add(999, link="x", quantity=100) == {"error": "Incorrect service ID"}
    assert api("add", link="x", quantity=100) == {"error": "Incorrect service ID"}
    assert api.add(1, link="https://a", quantity=49) == {"error": "Quantity less than minimal 50"}
    assert api.add(1, link="https://a", quantity=10001) == {
        "error": "Quantity more than maximum 10000"
    }
    assert api.add(1, quantity=100) == {"error": "Incorrect link"}
    assert api.add(1, link="has space", quantity=100) == {"error": "Incorrect link"}
    assert api.add(1, link="https://a", quantity="many") == {"error": "Incorrect request"}
    fresh(balance="0.05")
    assert api.add(1, link="https://a", quantity=100) == {"error": "Not enough funds on balance"}


def test_add_lenient_numbers(api: Api) -> None:
    assert api.add(" 1 ", link=" https://a ", quantity=" 100.0 ") == {"order": 1}


def test_add_dripfeed(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1, quantity=100, runs=3, interval=15)
    assert sim.state.orders[order_id].quantity == 300
    assert api("status", order=order_id)["charge"] == "0.27000"
    assert api.add(4, link="https://a", quantity=100, runs=2, interval=5) == {
        "error": "Incorrect request"  # service 4 has no drip-feed
    }
    assert api.add(1, link="https://a", quantity=100, runs=2) == {"error": "Incorrect request"}


def test_add_idempotent_by_request_id_and_header(api: Api, sim: RunningSimulator) -> None:
    first = api.add(1, link="https://a", quantity=100, request_id="abc")
    assert api.add(1, link="https://a", quantity=100, request_id="abc") == first
    headers = {"Idempotency-Key": "hdr-1"}
    data = {"key": sim.key, "action": "add", "service": "1", "link": "https://b", "quantity": "100"}
    second = httpx.post(sim.api_url, data=data, headers=headers).json()
    assert httpx.post(sim.api_url, data=data, headers=headers).json() == second
    assert second != first
    records = sim.control.orders()
    assert [(r["request_id"], r["add_requests"]) for r in records] == [("abc", 2), ("hdr-1", 2)]
    assert api("balance")["balance"] == "999.82000"


def test_status_single(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1, quantity=1000)
    assert api("status", order=order_id) == {
        "charge": "0.90000",
        "start_count": "0",
        "status": "Pending",
        "remains": "1000",
        "currency": "USD",
    }
    sim.control.advance(15)
    answer = api("status", order=order_id)
    assert (answer["status"], answer["remains"]) == ("In progress", "500")
    assert int(answer["start_count"]) >= 100
    sim.control.advance(5)
    answer = api("status", order=order_id, how="get")
    assert (answer["status"], answer["remains"]) == ("Completed", "0")
    assert api("status", order=999) == {"error": "Incorrect order ID"}
    assert api("status", order="abc") == {"error": "Incorrect order ID"}
    assert api("status") == {"error": "Incorrect request"}


def test_status_multi(api: Api) -> None:
    first, second = api.order(), api.order(2, quantity=100)
    answer = api("status", orders=f"{first}, {second},77,x")
    assert list(answer) == [str(first), str(second), "77", "x"]
    assert set(answer[str(first)]) == STATUS_KEYS
    assert answer[str(second)]["charge"] == "0.02500"
    assert answer["77"] == {"error": "Incorrect order ID"}
    assert answer["x"] == {"error": "Incorrect order ID"}
    assert api("status", how="json", orders=f"{first}")[str(first)]["status"] == "Pending"


def test_status_multi_json_list_and_limit(api: Api, sim: RunningSimulator) -> None:
    api.order()
    body = {"key": sim.key, "action": "status", "orders": [1, 2]}
    answer = httpx.post(sim.api_url, json=body).json()
    assert answer["1"]["status"] == "Pending" and answer["2"] == {"error": "Incorrect order ID"}
    too_many = ",".join(str(n) for n in range(1, 102))
    assert api("status", orders=too_many) == {"error": "Too many IDs (max 100)"}
    assert api("status", orders=",".join(str(n) for n in range(1, 101))).keys() >= {"1", "100"}


def test_refill_single_and_multi(api: Api, sim: RunningSimulator) -> None:
    done, running, no_refill = api.order(1), api.order(1), api.order(4, quantity=100)
    sim.control.advance(20)
    sim.control.set_status(order=running, status="In progress")
    assert api("refill", order=done) == {"refill": "1"}
    assert api("refill", order=done) == {"error": "Refill request was sent earlier"}
    assert api("refill", order=running) == {"error": "Order not eligible for refill"}
    assert api("refill", order=404) == {"error": "Incorrect order ID"}
    sim.control.set_status(order=running, status="Completed")
    answer = api("refill", orders=f"{running},{no_refill},{done},404")
    assert answer == [
        {"order": running, "refill": 2},
        {"order": no_refill, "refill": {"error": "Refill is disabled for this service"}},
        {"order": done, "refill": {"error": "Refill request was sent earlier"}},
        {"order": 404, "refill": {"error": "Incorrect order ID"}},
    ]


def test_refill_status_single_and_multi(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1)
    sim.control.advance(20)
    refill_id = int(api("refill", order=order_id)["refill"])
    assert api("refill_status", refill=refill_id) == {"status": "Pending"}
    sim.control.advance(10)
    assert api("refill_status", refill=refill_id) == {"status": "In progress"}
    sim.control.advance(10)
    assert api("refill_status", refill=refill_id) == {"status": "Completed"}
    assert api("refill_status", refill=9) == {"error": "Refill not found"}
    assert api("refill_status", refills=f"{refill_id},9") == [
        {"refill": refill_id, "status": "Completed"},
        {"refill": 9, "status": {"error": "Refill not found"}},
    ]
    sim.control.set_status(refill=refill_id, status="Rejected")
    assert api("refill_status", refill=refill_id) == {"status": "Rejected"}


def test_cancel_create_and_status(api: Api, sim: RunningSimulator) -> None:
    pending = api.order(1)
    drip = api.order(2, quantity=100, runs=2, interval=5)
    no_cancel = api.order(4, quantity=100)
    sub = api("add", service=21, username="bob", min=50, max=60)["order"]
    answer = api("cancel", orders=f"{pending},{drip},{no_cancel},{sub},404")
    assert answer == [
        {"order": pending, "type": "order", "cancel": 1},
        {"order": drip, "type": "dripfeed", "cancel": 2},
        {
            "order": no_cancel,
            "type": "order",
            "cancel": {"error": "Cancel is disabled for this service"},
        },
        {"order": sub, "type": "subscription", "cancel": 3},
        {"order": 404, "type": "order", "cancel": {"error": "Incorrect order ID"}},
    ]
    assert api("cancel", order=pending) == [
        {
            "order": pending,
            "type": "order",
            "cancel": {"error": "Cancellation request was sent earlier"},
        }
    ]
    assert api("cancel", cancels="1,2,3,99") == [
        {"cancel": 1, "status": "Pending"},
        {"cancel": 2, "status": "Pending"},
        {"cancel": 3, "status": "Pending"},
        {"cancel": 99, "status": {"error": "Cancel not found"}},
    ]
    sim.control.advance(10)
    statuses = api("cancel", cancels="1,2,3")
    assert [s["status"] for s in statuses] == ["Completed"] * 3
    multi = api("status", orders=f"{pending},{drip},{sub}")
    assert [multi[str(i)]["status"] for i in (pending, drip, sub)] == ["Canceled"] * 3
    assert multi[str(pending)]["charge"] == "0.00000"


def test_cancel_of_completed_order_is_rejected(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1)
    sim.control.advance(20)
    assert api("cancel", order=order_id)[0]["cancel"] == 1
    sim.control.advance(10)
    assert api("cancel", cancels="1") == [{"cancel": 1, "status": "Rejected"}]
    assert api("status", order=order_id)["status"] == "Completed"


def test_subscription_status_lists_child_orders(
    api: Api, sim: RunningSimulator, fresh: Callable[..., SimState]
) -> None:
    fresh(subscription_interval=60)
    sub = api("add", service=21, username="carol", min=100, max=100, posts=2)["order"]
    answer = api("status", order=sub)
    assert answer == {
        "charge": "0.00000",
        "start_count": "0",
        "status": "In progress",
        "remains": "2",
        "currency": "USD",
        "orders": [],
    }
    sim.control.advance(60)
    answer = api("status", orders=str(sub))[str(sub)]
    assert (answer["status"], answer["orders"], answer["charge"]) == (
        "In progress",
        [sub + 1],
        "0.03000",
    )
    sim.control.advance(60)
    answer = api("status", order=sub)
    assert (answer["status"], answer["orders"], answer["remains"]) == (
        "Completed",
        [sub + 1, sub + 2],
        "0",
    )
    children = sim.control.orders(parent=sub)
    assert [c["id"] for c in children] == [sub + 1, sub + 2]
    assert children[0]["link"] == "https://instagram.com/carol/p/post-1"
    sim.control.advance(20)
    child = api("status", order=sub + 1)
    assert child["status"] == "Completed" and "orders" not in child


def test_balance_is_charged_and_refunded(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1, quantity=1000)
    assert api("balance")["balance"] == "999.10000"
    sim.control.set_status(order=order_id, status="Canceled")
    assert api("balance") == {"balance": "1000.00000", "currency": "USD"}


def test_every_status_answer_is_json(api: Api) -> None:
    response = api.raw("status", order=1)
    assert response.headers["content-type"] == "application/json"
    body: Any = response.json()
    assert body == {"error": "Incorrect order ID"}
