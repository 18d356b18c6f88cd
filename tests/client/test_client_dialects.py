"""Answers of other panels (the dialects of tests/client/dialects.py), served over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from smmpanel.client import (
    ApiError,
    CancelStatus,
    ItemError,
    OrderStatus,
    ProtocolError,
    RefillStatus,
    ServiceType,
    TransportError,
)

from . import dialects
from .panel_server import PanelServer, Reply, Script


@pytest.fixture
def other(panel: PanelServer) -> PanelServer:
    panel.responder = dialects.numbers_and_spellings()
    return panel


def test_services_numbers_booleans_and_type_names(api: Any, other: PanelServer) -> None:
    services = api.services()
    assert [(s.service, s.type) for s in services] == [
        (1, ServiceType.DEFAULT),
        (2, ServiceType.CUSTOM_COMMENTS),
        (3, ServiceType.WEB_TRAFFIC),
        (4, "Likes Split"),
    ]
    assert [s.rate for s in services] == [
        Decimal("0.9"),
        Decimal("8"),
        Decimal("0.0009"),
        Decimal("1.5"),
    ]
    assert all(isinstance(s.rate, Decimal) for s in services)
    assert [(s.dripfeed, s.refill, s.cancel) for s in services] == [
        (True, True, False),
        (False, False, True),
        (True, False, True),
        (False, False, False),
    ]
    assert [(s.min, s.max) for s in services][:2] == [(50, 10000), (10, 15000)]
    assert services[1].name == "Comments [Refill 30D]"
    assert services[1].description == "Real comments"


def test_statuses_in_another_dialect(api: Any, other: PanelServer) -> None:
    results = api.statuses([1, 2, 3, 4, 5, 6])
    by_id = {r.order_id: r for r in results}
    assert [r.order_id for r in results] == [1, 2, 3, 4, 5, 6]
    assert by_id[1].status is OrderStatus.CANCELED  # "Cancelled"
    assert by_id[1].charge == Decimal("0.27819")  # a JSON number, read as Decimal
    assert isinstance(by_id[1].charge, Decimal)
    assert (by_id[1].start_count, by_id[1].remains) == (3572, 0)
    assert by_id[2].status is OrderStatus.IN_PROGRESS  # "In Progress"
    assert (by_id[2].start_count, by_id[2].remains) == (None, None)  # "" and "Unknown"
    assert by_id[3].error == ItemError("Incorrect order ID", "incorrect_order")  # bare string
    assert by_id[4].status is OrderStatus.CANCELED and by_id[4].currency is None
    assert by_id[5].status is OrderStatus.COMPLETED and by_id[5].charge == Decimal(2)
    assert by_id[6].error == ItemError("no answer for this id", "missing")


def test_single_answers_in_another_dialect(api: Any, other: PanelServer) -> None:
    status = api.status(9)
    assert (status.status, status.charge, status.remains, status.start_count) == (
        OrderStatus.CANCELED,
        Decimal("0.5"),
        None,
        None,
    )
    assert status.currency == "EUR"
    assert api.add(1, "https://x", 100).order_id == 23501  # "status": "success", string id
    balance = api.balance()
    assert balance.balance == Decimal("100.84292") and balance.currency == "USD"
    assert balance.raw["status"] == "success"
    assert api.refill(1).refill_id == 77
    assert api.refill_status(1).status is RefillStatus.IN_PROGRESS


def test_refills_and_cancels_in_another_dialect(api: Any, other: PanelServer) -> None:
    refills = api.refills([1, 2, 3])
    assert [r.refill_id for r in refills] == [11, None, None]
    assert [r.error.code if r.error else None for r in refills] == [
        None,
        "incorrect_order",
        "refill_disabled",
    ]
    statuses = api.refill_statuses([1, 2, 3])
    assert [s.status for s in statuses] == [RefillStatus.COMPLETED, RefillStatus.REJECTED, None]
    assert statuses[2].error == ItemError("Refill not found", "refill_not_found")
    cancels = api.cancel([1, 2])  # answered as an object keyed by order id
    assert [(c.order_id, c.cancel_id, c.type) for c in cancels] == [
        (1, 100, "order"),
        (2, None, None),
    ]
    assert cancels[1].error is not None and cancels[1].error.code == "already_requested"
    cancel_statuses = api.cancel_statuses([1, 2])
    assert cancel_statuses[0].status is CancelStatus.COMPLETED
    assert cancel_statuses[1].error == ItemError("Cancel not found", "cancel_not_found")


def test_single_and_multi_shapes_swapped(api: Any, panel: PanelServer) -> None:
    panel.responder = Script(dialects.WRAPPED)
    assert api.status(7).status is OrderStatus.PENDING  # single answered keyed by id
    (one,) = api.statuses([8])  # multi about one id answered flat
    assert (one.order_id, one.status, one.remains) == (8, OrderStatus.PARTIAL, 3)
    assert api.refill(7).refill_id == 70  # single refill answered as an array
    assert api.refill_status(70).status is RefillStatus.COMPLETED
    (cancel,) = api.cancel([7])  # cancel answered as a bare object
    assert (cancel.cancel_id, cancel.type) == (300, "dripfeed")


def test_untranslated_error_keys(api: Any, panel: PanelServer) -> None:
    panel.responder = Script(dialects.UNTRANSLATED)
    with pytest.raises(ApiError) as info:
        api.add(1, "https://x", 100)
    assert (info.value.code, info.value.message) == (
        "not_enough_funds",
        "neworder.error.not_enough_funds",
    )
    with pytest.raises(ApiError) as info:
        api.balance()
    assert info.value.code == "invalid_key"
    with pytest.raises(ApiError) as info:
        api.refill(3)
    assert info.value.code == "refill_disabled"
    with pytest.raises(ApiError) as info:
        api.services()  # a bare JSON string
    assert (info.value.code, info.value.message) == ("invalid_key", "Invalid API key")
    with pytest.raises(ApiError) as info:
        api.status(3)
    assert info.value.code == "incorrect_order"
    # A multi call about one id answered with a flat id error: that id's result.
    (result,) = api.statuses([3])
    assert result.error == ItemError("Incorrect order ID", "incorrect_order")
    # ... but a whole-call error about many ids is raised.
    with pytest.raises(ApiError):
        api.statuses([3, 4])


def test_html_502_is_a_transport_error_after_retries(api: Any, panel: PanelServer) -> None:
    panel.responder = Script({"balance": dialects.HTML_502})
    with pytest.raises(TransportError) as info:
        api.balance()
    error = info.value
    assert error.status_code == 502
    assert "502 Bad Gateway" in error.snippet and "<html>" in error.snippet
    assert "HTTP 502" in str(error) and "after 3 tries" in str(error)
    assert len(panel.calls("balance")) == 3


def test_html_200_is_a_protocol_error(api: Any, panel: PanelServer) -> None:
    panel.responder = Script({"balance": dialects.HTML_200})
    with pytest.raises(ProtocolError) as info:
        api.balance()
    assert info.value.status_code == 200
    assert info.value.snippet.startswith("<!DOCTYPE html><html><body><h1>Site under maintenance")
    assert "not JSON (HTTP 200)" in str(info.value)
    assert len(panel.calls("balance")) == 1  # an answer came: not retried


def test_empty_body_is_a_protocol_error(api: Any, panel: PanelServer) -> None:
    panel.responder = Script({"status": dialects.EMPTY})
    with pytest.raises(ProtocolError) as info:
        api.status(1)
    assert info.value.status_code == 200
    assert "empty answer (HTTP 200)" in str(info.value)


def test_unreadable_add_answer_says_the_order_may_exist(api: Any, panel: PanelServer) -> None:
    panel.responder = Script({"add": Reply({"ok": True})})
    with pytest.raises(ProtocolError) as info:
        api.add(1, "https://x", 100)
    assert "the add answer has no order id" in str(info.value)
    assert "may or may not have been created" in str(info.value)


def test_unexpected_shapes(api: Any, panel: PanelServer) -> None:
    panel.responder = Script({"balance": Reply([1, 2]), "status": Reply({"whatever": 1})})
    with pytest.raises(ProtocolError, match="balance: unexpected answer"):
        api.balance()
    with pytest.raises(ProtocolError, match="status: unexpected answer"):
        api.statuses([1, 2])


def test_http_error_codes_with_and_without_an_error_body(api: Any, panel: PanelServer) -> None:
    panel.responder = Script(
        {
            "balance": Reply({"error": "Invalid API key"}, status=401),
            "services": Reply("Not Found", status=404, content_type="text/plain"),
            "status": Reply({"error": "Incorrect order ID"}, status=500),
        }
    )
    with pytest.raises(ApiError) as info:
        api.balance()
    assert info.value.code == "invalid_key"
    with pytest.raises(ProtocolError) as perr:
        api.services()
    assert perr.value.status_code == 404
    # A 5xx carrying a recognised error is the panel's answer: no retry.
    with pytest.raises(ApiError) as info:
        api.status(5)
    assert info.value.code == "incorrect_order"
    assert len(panel.calls("status")) == 1


def test_a_redirect_is_reported_not_followed(api: Any, panel: PanelServer) -> None:
    panel.responder = Script(
        {
            "balance": Reply("", status=301, headers={"Location": "https://panel.example/api/v2"}),
        }
    )
    with pytest.raises(ProtocolError) as info:
        api.balance()
    assert "redirects to https://panel.example/api/v2" in str(info.value)
    assert info.value.status_code == 301
