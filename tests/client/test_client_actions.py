"""Every action, through both clients and all three request methods, against a real server."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from smmpanel.client import (
    ApiError,
    AsyncClient,
    Balance,
    CancelStatus,
    Client,
    ItemError,
    OrderStatus,
    PlacedOrder,
    RefillStatus,
    Service,
    ServiceType,
)

from .fake_panel import KEY, FakePanel
from .panel_server import PanelServer, Received


def sent(panel: PanelServer, api: Any) -> Received:
    """The last request, checked to be in the shape of the client's request method."""
    request = panel.requests[-1]
    assert request.path == "/api/v2"
    assert request.params["key"] == KEY
    if api.method == "get":
        assert request.method == "GET"
        assert request.body == b""
        assert request.query["key"] == KEY
    elif api.method == "json":
        assert request.method == "POST"
        assert request.content_type == "application/json"
        assert request.json_body["key"] == KEY
        assert request.query == {}
    else:
        assert request.method == "POST"
        assert request.content_type == "application/x-www-form-urlencoded"
        assert request.query == {}
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("smmpanel-client/")
    return request


def test_services(api: Any, panel: PanelServer) -> None:
    services = api.services()
    assert [s.service for s in services] == [1, 2, 3, 4]
    first = services[0]
    assert isinstance(first, Service)
    assert first.rate == Decimal("0.90000") and isinstance(first.rate, Decimal)
    assert (first.min, first.max) == (50, 10000)
    assert (first.dripfeed, first.refill, first.cancel) == (True, True, False)
    assert services[1].type == ServiceType.CUSTOM_COMMENTS
    assert services[2].rate == Decimal("0.00090")
    assert first.raw["category"] == "Instagram Followers"
    assert sent(panel, api).params["action"] == "services"


def test_balance(api: Any, panel: PanelServer) -> None:
    balance = api.balance()
    assert balance == Balance(Decimal("100.84292"), "USD")
    assert sent(panel, api).params["action"] == "balance"


def test_add_with_drip_feed(api: Any, panel: PanelServer, fake: FakePanel) -> None:
    placed = api.add(1, "https://instagram.com/p/abc", 100, runs=2, interval=5)
    assert placed == PlacedOrder(1001)
    request = sent(panel, api)
    assert {
        k: request.params[k] for k in ("action", "service", "link", "quantity", "runs", "interval")
    } == {
        "action": "add",
        "service": "1",
        "link": "https://instagram.com/p/abc",
        "quantity": "100",
        "runs": "2",
        "interval": "5",
    }
    assert "request_id" not in request.params
    assert "idempotency-key" not in request.headers
    assert fake.created == 1
    assert fake.orders[1001].charge == Decimal("0.18000")


def test_add_comments_list_is_joined_by_newlines(api: Any, panel: PanelServer) -> None:
    comments = ["Great post!", "Love it + more", "Ünïcode & symbols=fine"] * 4
    placed = api.add(2, "https://instagram.com/p/xyz", comments=comments)
    assert placed.order_id == 1001
    request = sent(panel, api)
    assert request.params["comments"] == "\n".join(comments)
    assert "quantity" not in request.params


def test_add_type_parameters_and_extra(api: Any, panel: PanelServer, fake: FakePanel) -> None:
    api.add(3, "https://twitter.com/poll/1", 1000, answer_number=2)
    assert sent(panel, api).params["answer_number"] == "2"
    api.add(
        4,
        None,
        100,
        username="someone",
        min=100,
        max=200,
        posts=5,
        old_posts=1,
        delay=30,
        expiry=dt.date(2031, 12, 24),
        custom_field="x",
    )
    params = sent(panel, api).params
    assert "link" not in params
    assert {
        k: params[k]
        for k in ("username", "min", "max", "posts", "old_posts", "delay", "expiry", "custom_field")
    } == {
        "username": "someone",
        "min": "100",
        "max": "200",
        "posts": "5",
        "old_posts": "1",
        "delay": "30",
        "expiry": "24/12/2031",
        "custom_field": "x",
    }
    assert fake.created == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((99, "https://x", 100), "incorrect_service", "Incorrect service ID"),
        ((1, "https://x", 10), "quantity_too_low", "Quantity less than minimal 50"),
        ((1, "https://x", 10**6), "quantity_too_high", "Quantity more than maximum 10000"),
        ((1, "https://x", 9000, 100), "not_enough_funds", "Not enough funds on balance"),
    ],
)
def test_add_errors(
    api: Any, fake: FakePanel, args: tuple[Any, ...], code: str, message: str
) -> None:
    service, link, quantity, *runs = args
    with pytest.raises(ApiError) as info:
        api.add(service, link, quantity, runs=runs[0] if runs else None)
    assert (info.value.code, info.value.message, str(info.value)) == (code, message, message)
    assert fake.created == 0


def test_status(api: Any, panel: PanelServer) -> None:
    result = api.status(10)
    assert result.order_id == 10
    assert result.status is OrderStatus.PARTIAL
    assert (result.charge, result.start_count, result.remains, result.currency) == (
        Decimal("0.01230"),
        100,
        10,
        "USD",
    )
    assert result.ok and result.error is None
    assert sent(panel, api).params["order"] == "10"
    with pytest.raises(ApiError) as info:
        api.status(123456)
    assert info.value.code == "incorrect_order"


def test_statuses(api: Any, panel: PanelServer) -> None:
    results = api.statuses([3, 99999, "5", 1])
    assert [r.order_id for r in results] == [3, 99999, 5, 1]
    assert [r.status for r in results] == [
        OrderStatus.COMPLETED,
        None,
        OrderStatus.CANCELED,
        OrderStatus.IN_PROGRESS,
    ]
    assert results[1].error == ItemError("Incorrect order ID", "incorrect_order")
    assert sent(panel, api).params["orders"] == "3,99999,5,1"


def test_refill(api: Any, panel: PanelServer) -> None:
    result = api.refill(3)  # the API's single answer: {"refill": "5001"} (a string)
    assert (result.order_id, result.refill_id, result.error) == (3, 5001, None)
    assert sent(panel, api).params["order"] == "3"
    with pytest.raises(ApiError) as info:
        api.refill(3)
    assert info.value.code == "already_requested"
    with pytest.raises(ApiError) as info:
        api.refill(4)
    assert (info.value.code, info.value.message) == (
        "not_eligible",
        "Order not eligible for refill",
    )


def test_refills(api: Any, panel: PanelServer) -> None:
    results = api.refills([9, 4, 77777])
    assert [(r.order_id, r.refill_id) for r in results] == [(9, 5001), (4, None), (77777, None)]
    assert [r.error.code if r.error else None for r in results] == [
        None,
        "not_eligible",
        "incorrect_order",
    ]
    assert sent(panel, api).params["orders"] == "9,4,77777"


def test_refill_status_and_statuses(api: Any, panel: PanelServer) -> None:
    assert api.refill_status(2).status is RefillStatus.COMPLETED
    assert sent(panel, api).params["refill"] == "2"
    with pytest.raises(ApiError) as info:
        api.refill_status(999)
    assert info.value.code == "refill_not_found"
    results = api.refill_statuses([1, 3, 4, 999])
    assert [r.status for r in results] == [
        RefillStatus.IN_PROGRESS,
        RefillStatus.REJECTED,
        RefillStatus.ERROR,
        None,
    ]
    assert results[3].error == ItemError("Refill not found", "refill_not_found")
    assert sent(panel, api).params["refills"] == "1,3,4,999"


def test_cancel(api: Any, panel: PanelServer) -> None:
    results = api.cancel([5, 123456])
    assert [(r.order_id, r.cancel_id, r.type) for r in results] == [
        (5, 7001, "order"),
        (123456, None, "order"),
    ]
    assert results[1].error == ItemError("Incorrect order ID", "incorrect_order")
    request = sent(panel, api)
    assert (request.params["action"], request.params["orders"]) == ("cancel", "5,123456")
    (single,) = api.cancel(8)
    assert single.cancel_id == 7002


def test_cancel_statuses(api: Any, panel: PanelServer) -> None:
    results = api.cancel_statuses([1, 2, 3, 404])
    assert [r.status for r in results] == [
        CancelStatus.COMPLETED,
        CancelStatus.REJECTED,
        CancelStatus.PENDING,
        None,
    ]
    assert results[3].error == ItemError("Cancel not found", "cancel_not_found")
    request = sent(panel, api)
    assert (request.params["action"], request.params["cancels"]) == ("cancel", "1,2,3,404")


def test_wrong_key_is_an_api_error(make_client: Any, kind: str) -> None:
    client = make_client(kind, key="not-the-key")
    with pytest.raises(ApiError) as info:
        client.balance()
    assert (info.value.code, info.value.message) == ("invalid_key", "Invalid API key")


def test_empty_id_list_makes_no_call(api: Any, panel: PanelServer) -> None:
    assert api.statuses([]) == []
    assert api.cancel([]) == []
    assert panel.requests == []


def test_bad_ids_are_refused_before_sending(api: Any, panel: PanelServer) -> None:
    with pytest.raises(ValueError, match="order id"):
        api.statuses([1, "x"])
    with pytest.raises(ValueError):
        api.status(0)
    assert panel.requests == []


def test_one_pooled_connection_is_reused(panel: PanelServer) -> None:
    with Client(panel.url, KEY) as client:
        for _ in range(5):
            client.balance()
    peers = {r.peer for r in panel.requests}
    assert len(panel.requests) == 5 and len(peers) == 1


def test_async_client_natively(panel: PanelServer, fake: FakePanel) -> None:
    async def scenario() -> tuple[Any, ...]:
        async with AsyncClient(panel.url, KEY, method="json", user_agent="reseller-bot/2") as c:
            placed = await c.add(1, "https://x", 100, request_id="abc-1")
            statuses, balance = await asyncio.gather(c.statuses([1, 2]), c.balance())
            return placed, statuses, balance

    placed, statuses, balance = asyncio.run(scenario())
    assert placed.order_id == 1001
    assert [s.status for s in statuses] == [OrderStatus.IN_PROGRESS, OrderStatus.PROCESSING]
    assert balance.balance == Decimal("100.84292") - Decimal("0.09")
    assert {r.headers["user-agent"] for r in panel.requests} == {"reseller-bot/2"}
    assert panel.calls("add")[0].headers["idempotency-key"] == "abc-1"


def test_ids_and_service_ids_in_other_forms(api: Any, panel: PanelServer) -> None:
    results = api.statuses("7, 8,9")
    assert [r.order_id for r in results] == [7, 8, 9]
    assert sent(panel, api).params["orders"] == "7,8,9"
    with pytest.raises(ApiError) as info:
        api.add("svc-abc", "https://x", 100)  # a panel's non-numeric service id is passed on
    assert info.value.code == "incorrect_service"
    assert sent(panel, api).params["service"] == "svc-abc"
