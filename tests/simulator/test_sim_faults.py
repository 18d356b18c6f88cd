"""Fault injection: every kind, variants, scoping, probability and "next N"."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from smmpanel.simulator.faults import (
    DIALECT_QUIRKS,
    FaultError,
    FaultRule,
    FaultSet,
    parse_fault_spec,
    rule_from_mapping,
)
from smmpanel.simulator.state import SimState
from smmpanel.simulator.testing import RunningSimulator
from tests.simulator.conftest import Api

LINK = "https://instagram.com/p/fault"


def add_data(sim: RunningSimulator, **extra: str) -> dict[str, str]:
    return {
        "key": sim.key,
        "action": "add",
        "service": "1",
        "link": LINK,
        "quantity": "1000",
        **extra,
    }


def test_parse_fault_spec() -> None:
    rule = parse_fault_spec("timeout:next=2,seconds=5,variant=drop,service=3")
    assert rule == FaultRule("timeout", service=3, count=2, seconds=5.0, variant="drop")
    assert parse_fault_spec("partial:p=0.25,fraction=0.1") == FaultRule(
        "partial", probability=0.25, fraction=0.1
    )
    assert parse_fault_spec("dialect:quirks=cancelled+numbers").quirks == ("cancelled", "numbers")
    assert parse_fault_spec("unreadable:variant=truncated,record=yes").record is True
    assert parse_fault_spec("refuse:error=Incorrect link").error == "Incorrect link"
    for bad in (
        "explode",
        "partial:p=2",
        "timeout:variant=sideways",
        "slow:seconds",
        "dialect:quirks=shouting",
        "slow:bogus=1",
        "partial:p=x",
    ):
        with pytest.raises(FaultError):
            parse_fault_spec(bad)
    with pytest.raises(FaultError):
        rule_from_mapping({"probability": 1})


def test_fault_set_count_probability_and_scope() -> None:
    faults = FaultSet(seed=1)
    faults.add(FaultRule("refuse", count=2))
    assert [faults.decide("add").answer is not None for _ in range(3)] == [True, True, False]
    assert faults.list() == []
    faults.add(FaultRule("partial", service=5))
    assert faults.decide("add", 4).outcome is None
    assert faults.decide("status", 5).outcome is None
    assert faults.decide("add", 5).outcome is not None
    faults.clear()
    faults.add(FaultRule("cancel", probability=0.5))
    fired = sum(faults.decide("add").outcome is not None for _ in range(1000))
    assert 400 < fired < 600
    faults.clear()
    faults.add(FaultRule("slow", actions=("status",)))
    assert faults.decide("add").slow is None and faults.decide("status").slow is not None
    assert faults.fired["refuse"] == 2 and faults.fired["slow"] == 1


def test_first_answer_fault_wins_and_only_it_is_consumed() -> None:
    faults = FaultSet()
    faults.add(FaultRule("refuse", count=1))
    faults.add(FaultRule("no_funds", count=1))
    assert faults.decide("add").answer == FaultRule("refuse", count=1)
    assert faults.decide("add").answer == FaultRule("no_funds", count=1)
    assert faults.decide("add").answer is None


def test_partial_fault(api: Api, sim: RunningSimulator) -> None:
    sim.control.add_fault("partial", count=1, fraction=0.3)
    first, second = api.order(quantity=1000), api.order(quantity=1000)
    sim.control.advance(20)
    answer = api("status", orders=f"{first},{second}")
    assert answer[str(first)]["status"] == "Partial" and answer[str(first)]["remains"] == "300"
    assert answer[str(first)]["charge"] == "0.63000"
    assert answer[str(second)]["status"] == "Completed"
    assert api("balance")["balance"] == "998.47000"
    assert sim.control.stats()["faults"] == {"partial": 1}


def test_cancel_fault_per_service(api: Api, sim: RunningSimulator) -> None:
    sim.control.add_fault("cancel:service=2")
    canceled, fine = api.order(2, quantity=1000), api.order(1, quantity=1000)
    sim.control.advance(20)
    assert api("status", order=canceled)["status"] == "Canceled"
    assert api("status", order=canceled)["remains"] == "1000"
    assert api("status", order=fine)["status"] == "Completed"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("refuse", "Incorrect service ID"),
        ("refuse:variant=link", "Incorrect link"),
        ("refuse:error=Service is temporarily disabled", "Service is temporarily disabled"),
        ("no_funds", "neworder.error.not_enough_funds"),
        ("no_funds:variant=message", "Not enough funds on balance"),
    ],
)
def test_add_rejections(api: Api, sim: RunningSimulator, spec: str, error: str) -> None:
    sim.control.add_fault(spec + (",count=1" if ":" in spec else ":count=1"))
    assert api.add(1, link=LINK, quantity=1000) == {"error": error}
    assert sim.control.orders() == []
    assert api("balance")["balance"] == "1000.00000"
    assert api.add(1, link=LINK, quantity=1000) == {"order": 1}


def test_slow(api: Api, sim: RunningSimulator) -> None:
    sim.control.add_fault("slow", seconds=0.3, count=1)
    started = time.perf_counter()
    assert api("balance")["balance"] == "1000.00000"
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    api("balance")
    assert time.perf_counter() - started < 0.3


def test_timeout_records_the_order_then_holds(api: Api, sim: RunningSimulator) -> None:
    sim.control.add_fault("timeout", count=1, seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(sim.api_url, data=add_data(sim, request_id="t-1"), timeout=0.3)
    records = sim.control.orders(link=LINK)
    assert [(r["id"], r["add_requests"]) for r in records] == [(1, 1)]
    # the client retries with the same request id: the same order comes back
    assert api.add(1, link=LINK, quantity=1000, request_id="t-1") == {"order": 1}
    assert sim.control.orders(link=LINK)[0]["add_requests"] == 2
    assert sim.control.links() == {LINK: 1}


def test_timeout_answers_late_when_the_client_waits(sim: RunningSimulator) -> None:
    sim.control.add_fault("timeout", count=1, seconds=0.2)
    started = time.perf_counter()
    answer = httpx.post(sim.api_url, data=add_data(sim), timeout=5).json()
    assert answer == {"order": 1} and time.perf_counter() - started >= 0.2


def test_timeout_drop_records_nothing(sim: RunningSimulator) -> None:
    sim.control.add_fault("timeout", count=1, seconds=1.0, variant="drop")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(sim.api_url, data=add_data(sim), timeout=0.3)
    assert sim.control.orders() == []
    sim.control.add_fault("timeout", count=1, seconds=0.1, variant="drop")
    response = httpx.post(sim.api_url, data=add_data(sim), timeout=5)
    assert response.status_code == 504 and "<html>" in response.text
    assert sim.control.orders() == []


@pytest.mark.parametrize("record", [False, True])
def test_unreadable_html_502(sim: RunningSimulator, record: bool) -> None:
    sim.control.add_fault("unreadable", count=1, record=record)
    response = httpx.post(sim.api_url, data=add_data(sim))
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text
    assert len(sim.control.orders()) == (1 if record else 0)


def test_unreadable_empty_and_truncated(sim: RunningSimulator) -> None:
    sim.control.add_fault("unreadable", count=1, variant="empty")
    response = httpx.post(sim.api_url, data=add_data(sim))
    assert (response.status_code, response.content) == (200, b"")
    sim.control.add_fault("unreadable", count=1, variant="truncated", record=True)
    response = httpx.post(sim.api_url, data=add_data(sim))
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert response.text.startswith('{"ord')
    assert [r["id"] for r in sim.control.orders()] == [1]


def test_unreadable_on_status_only(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order()
    sim.control.add_fault({"kind": "unreadable", "actions": ["status"], "count": 1})
    assert api.raw("status", order=order_id).status_code == 502
    assert api("status", order=order_id)["status"] == "Pending"


def test_dialect_every_quirk(api: Api, sim: RunningSimulator) -> None:
    sim.control.add_fault("dialect")
    assert api.add(1, link=LINK, quantity=1000) == {"order": 1, "status": "success"}
    api.add(1, link=LINK, quantity=1000)
    third = api.add(2, link=LINK, quantity=1000)["order"]
    sim.control.set_status(order=third, status="Canceled")
    sim.control.advance(15)
    answer = api("status", orders="1,2,3,4")
    assert answer["1"]["charge"] == 0.9 and isinstance(answer["1"]["start_count"], int)
    assert answer["1"]["remains"] == 500
    assert answer["3"]["status"] == "Cancelled" and answer["3"]["remains"] == "Unknown"
    assert answer["4"] == "Incorrect order ID"
    assert all(s["type"] == s["type"].lower() for s in api("services"))
    sim.control.clear_faults("dialect")
    assert api("status", order=3)["status"] == "Canceled"
    assert api("status", orders="4") == {"4": {"error": "Incorrect order ID"}}


@pytest.mark.parametrize("quirk", DIALECT_QUIRKS)
def test_dialect_single_quirk(api: Api, sim: RunningSimulator, quirk: str) -> None:
    sim.control.add_fault({"kind": "dialect", "quirks": [quirk]})
    add = api.add(1, link=LINK, quantity=1000)
    assert ("status" in add) == (quirk == "success_key")
    sim.control.set_status(order=1, status="Canceled")
    status = api("status", orders="1,3")
    assert (status["1"]["status"] == "Cancelled") == (quirk == "cancelled")
    assert isinstance(status["1"]["charge"], float) == (quirk == "numbers")
    assert (status["3"] == "Incorrect order ID") == (quirk == "bare_errors")
    types = {s["type"] for s in api("services")}
    assert ("default" in types) == (quirk == "lowercase_types")


def test_faults_at_startup(fresh: Callable[..., SimState], api: Api, sim: RunningSimulator) -> None:
    fresh(faults=["refuse:count=1", parse_fault_spec("partial")])
    assert [f["kind"] for f in sim.control.faults()] == ["refuse", "partial"]
    assert api.add(1, link=LINK, quantity=1000) == {"error": "Incorrect service ID"}
    order_id = api.order()
    sim.control.advance(20)
    assert api("status", order=order_id)["status"] == "Partial"
