"""smmpanel.client.dialect: the normalisation the SDK and the provider relay share."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smmpanel.client import CancelStatus, ItemError, OrderStatus, RefillStatus, ServiceType
from smmpanel.client import dialect as d


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("Pending", OrderStatus.PENDING),
        ("In progress", OrderStatus.IN_PROGRESS),
        ("In Progress", OrderStatus.IN_PROGRESS),
        ("in_progress", OrderStatus.IN_PROGRESS),
        ("inprogress", OrderStatus.IN_PROGRESS),
        ("Processing", OrderStatus.PROCESSING),
        ("completed", OrderStatus.COMPLETED),
        ("Complete", OrderStatus.COMPLETED),
        (" Partial ", OrderStatus.PARTIAL),
        ("Canceled", OrderStatus.CANCELED),
        ("Cancelled", OrderStatus.CANCELED),
        ("canceled", OrderStatus.CANCELED),
        ("CANCELLED", OrderStatus.CANCELED),
        ("Refunded", OrderStatus.CANCELED),
    ],
)
def test_order_status_spellings(given_: str, expected: OrderStatus) -> None:
    assert d.order_status(given_) is expected


@pytest.mark.parametrize("bad", ["", "success", "Done?", None, 3])
def test_order_status_refuses_unknown(bad: object) -> None:
    with pytest.raises(ValueError, match="status"):
        d.order_status(bad)


def test_final_statuses() -> None:
    assert {s for s in OrderStatus if s.is_final} == {
        OrderStatus.COMPLETED,
        OrderStatus.PARTIAL,
        OrderStatus.CANCELED,
    }


def test_refill_and_cancel_statuses() -> None:
    assert d.refill_status("in progress") is RefillStatus.IN_PROGRESS
    assert d.refill_status("Error") is RefillStatus.ERROR
    assert d.refill_status("REJECTED") is RefillStatus.REJECTED
    assert d.cancel_status("completed") is CancelStatus.COMPLETED
    assert d.cancel_status("Rejected") is CancelStatus.REJECTED
    assert d.cancel_status("pending") is CancelStatus.PENDING
    with pytest.raises(ValueError):
        d.cancel_status("Error")


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("0.27819", Decimal("0.27819")),
        (" 100.84292 ", Decimal("100.84292")),
        (Decimal("0.9"), Decimal("0.9")),
        (8, Decimal(8)),
        (0.0009, Decimal("0.0009")),
        ("1e-5", Decimal("0.00001")),
    ],
)
def test_parse_decimal(given_: object, expected: Decimal) -> None:
    result = d.parse_decimal(given_)
    assert isinstance(result, Decimal)
    assert result == expected


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", "1,5", "", True, None, [1]])
def test_parse_decimal_refuses(bad: object) -> None:
    with pytest.raises(ValueError):
        d.parse_decimal(bad)


def test_parse_int_and_optional_int() -> None:
    assert d.parse_int("3572") == 3572
    assert d.parse_int(" 42 ") == 42
    assert d.parse_int(157) == 157
    assert d.parse_int("3572.0") == 3572
    assert d.parse_int(Decimal("12")) == 12
    with pytest.raises(ValueError):
        d.parse_int("12.5")
    with pytest.raises(ValueError):
        d.parse_int(True)
    for unknown in ("Unknown", "unknown", "", " ", None, "N/A", "null"):
        assert d.parse_optional_int(unknown) is None
    assert d.parse_optional_int("0") == 0
    assert d.parse_id("7") == 7
    with pytest.raises(ValueError):
        d.parse_id(0)


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("False", False),
        ("yes", True),
        (None, False),
        ("", False),
    ],
)
def test_parse_bool(given_: object, expected: bool) -> None:
    assert d.parse_bool(given_) is expected


def test_parse_bool_refuses() -> None:
    with pytest.raises(ValueError):
        d.parse_bool("maybe")
    with pytest.raises(ValueError):
        d.parse_bool(2)


def test_service_type_names() -> None:
    assert d.service_type("default") == ServiceType.DEFAULT
    assert d.service_type(" custom comments ") == "Custom Comments"
    assert d.service_type("custom_comments_package") == "Custom Comments Package"
    assert d.service_type("MENTIONS WITH HASHTAGS") == "Mentions with Hashtags"
    assert d.service_type("seo") == "SEO"
    assert d.service_type("Likes  Split") == "Likes Split"
    assert d.service_type(None) == "Default"


# docs/api.md's error table, plus the usual variants and untranslated keys.
ERRORS = [
    ("Invalid API key", "invalid_key"),
    ("Invalid key", "invalid_key"),
    ("Incorrect API key", "invalid_key"),
    ("error.incorrect_key", "invalid_key"),
    ("Incorrect request", "incorrect_request"),
    ("Incorrect service ID", "incorrect_service"),
    ("neworder.error.incorrect_service", "incorrect_service"),
    ("Quantity less than minimal 50", "quantity_too_low"),
    ("neworder.error.min_quantity", "quantity_too_low"),
    ("Quantity more than maximum 10000", "quantity_too_high"),
    ("Not enough funds on balance", "not_enough_funds"),
    ("Not enough funds", "not_enough_funds"),
    ("neworder.error.not_enough_funds", "not_enough_funds"),
    (
        "You have active order with this link. Please wait until order being completed.",
        "active_order_exists",
    ),
    ("Incorrect link", "incorrect_link"),
    ("Incorrect order ID", "incorrect_order"),
    ("Incorrect order id", "incorrect_order"),
    ("Refill not found", "refill_not_found"),
    ("Cancel not found", "cancel_not_found"),
    ("Refill is disabled for this service", "refill_disabled"),
    ("Cancel is disabled for this service", "cancel_disabled"),
    ("Order not eligible for refill", "not_eligible"),
    ("Refill request was sent earlier", "already_requested"),
    ("Cancellation request was sent earlier", "already_requested"),
    ("Too many IDs (max 100)", "too_many_ids"),
    ("Too many requests", "rate_limited"),
    ("Request ID already used with different parameters", "request_id_conflict"),
    ("Something odd happened", "unknown"),
    ("neworder.error.something_new", "unknown"),
]


@pytest.mark.parametrize(("message", "code"), ERRORS)
def test_error_code(message: str, code: str) -> None:
    assert d.error_code(message) == code
    assert code in d.ERROR_CODES


@given(st.text(max_size=80))
def test_error_code_is_total(message: str) -> None:
    assert d.error_code(message) in d.ERROR_CODES


@given(st.decimals(allow_nan=False, allow_infinity=False, places=5))
def test_decimal_round_trip(value: Decimal) -> None:
    assert d.parse_decimal(str(value)) == value


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_int_round_trip(value: int) -> None:
    assert d.parse_int(str(value)) == value
    assert d.parse_int(f" {value} ") == value


def test_answer_error_shapes() -> None:
    assert d.answer_error({"error": "Incorrect order ID"}) == ItemError(
        "Incorrect order ID", "incorrect_order"
    )
    assert d.answer_error({"error": {"message": "Not enough funds"}}) == ItemError(
        "Not enough funds", "not_enough_funds"
    )
    assert d.answer_error({"error": True, "message": "Invalid key"}) == ItemError(
        "Invalid key", "invalid_key"
    )
    assert d.answer_error({"error": "", "order": 5}) is None
    assert d.answer_error({"order": 5}) is None
    assert d.answer_error([{"error": "x"}]) is None
    assert d.answer_error("Invalid API key") == ItemError("Invalid API key", "invalid_key")
    assert d.answer_error("23501") is None  # not a recognised error: not a rejection
    # A refill whose status is "Error" is a status, not an error answer.
    assert d.answer_error({"status": "Error"}) is None


def test_parse_services_reads_reference_keys() -> None:
    entry = {
        "service": 1,
        "name": "Followers",
        "type": "Default",
        "rate [Other currency Separate Ticket request]": "0.90",
        "min": "50",
        "max": "10000",
        "dripfeed": True,
        "refill": True,
        "cancel": False,
        "category": "First Category",
        "desc [Separate Ticket Request]": "Description",
    }
    (service,) = d.parse_services([entry])
    assert service.rate == Decimal("0.90")
    assert (service.min, service.max) == (50, 10000)
    assert service.description == "Description"
    assert service.raw is not entry and service.raw == entry


def test_parse_services_skips_an_unreadable_entry(caplog: pytest.LogCaptureFixture) -> None:
    good = {
        "service": 1,
        "name": "A",
        "type": "Default",
        "rate": "1",
        "min": "1",
        "max": "2",
        "category": "C",
    }
    services = d.parse_services([good, {"service": "x", "rate": "?"}])
    assert [s.service for s in services] == [1]
    assert "cannot be read" in caplog.text
    with pytest.raises(ValueError):
        d.parse_services([{"nothing": 1}])
    with pytest.raises(ValueError):
        d.parse_services("<html>")


def test_parse_order_statuses_keyed_missing_and_unreadable() -> None:
    answer = {
        "1": {
            "charge": "0.27819",
            "start_count": "3572",
            "status": "Partial",
            "remains": "157",
            "currency": "USD",
        },
        "10": {"error": "Incorrect order ID"},
        "11": "Incorrect order ID",
        "12": {"status": "Exploded"},
    }
    results = d.parse_order_statuses(answer, [10, 1, 11, 12, 13])
    assert [r.order_id for r in results] == [10, 1, 11, 12, 13]
    assert results[0].error == ItemError("Incorrect order ID", "incorrect_order")
    assert results[1].status is OrderStatus.PARTIAL
    assert (results[1].charge, results[1].start_count, results[1].remains) == (
        Decimal("0.27819"),
        3572,
        157,
    )
    assert results[2].error == ItemError("Incorrect order ID", "incorrect_order")
    assert results[3].error is not None and results[3].error.code == "unreadable"
    assert results[4].error == ItemError("no answer for this id", "missing")


def test_parse_per_id_lists_match_by_id_not_position() -> None:
    answer = [{"order": 3, "refill": {"error": "Incorrect order ID"}}, {"order": 1, "refill": 1}]
    results = d.parse_refills(answer, [1, 3])
    assert [(r.order_id, r.refill_id) for r in results] == [(1, 1), (3, None)]
    assert results[1].error is not None and results[1].error.code == "incorrect_order"


def test_parse_cancels_reference_example() -> None:
    answer = [
        {"order": 1, "type": "order", "cancel": 100},
        {"order": 10, "type": "dripfeed", "cancel": 200},
        {"order": 100, "type": "subscription", "cancel": 300},
        {
            "order": 1000,
            "type": "subscription",
            "cancel": {"error": "Cancellation request was sent earlier"},
        },
    ]
    results = d.parse_cancels(answer, [1, 10, 100, 1000])
    assert [(r.cancel_id, r.type) for r in results] == [
        (100, "order"),
        (200, "dripfeed"),
        (300, "subscription"),
        (None, "subscription"),
    ]
    assert results[3].error is not None and results[3].error.code == "already_requested"
    assert results[3].ok is False and results[0].ok is True


def test_parse_refill_statuses_reference_example_with_type_key() -> None:
    answer = [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "type": "Rejected"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ]
    results = d.parse_refill_statuses(answer, [1, 2, 3])
    assert [r.status for r in results] == [RefillStatus.COMPLETED, RefillStatus.REJECTED, None]
    assert results[2].error == ItemError("Refill not found", "refill_not_found")


def test_results_to_dict_keep_money_as_strings() -> None:
    (result,) = d.parse_order_statuses({"status": "Partial", "charge": "0.27819"}, [4])
    assert result.to_dict() == {
        "order": 4,
        "status": "Partial",
        "charge": "0.27819",
        "start_count": None,
        "remains": None,
        "currency": None,
    }
    balance = d.parse_balance({"balance": "100.84292", "currency": "USD"})
    assert balance.to_dict() == {"balance": "100.84292", "currency": "USD"}
