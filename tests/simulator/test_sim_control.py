"""The `/_sim/...` control and records endpoints."""

from __future__ import annotations

import httpx

from smmpanel.simulator.testing import RunningSimulator
from tests.simulator.conftest import Api

LINK = "https://instagram.com/p/ctl"


def test_control_needs_the_key(sim: RunningSimulator) -> None:
    for path in ("orders", "stats", "faults", "refills", "cancels", "links"):
        response = httpx.get(f"{sim.base_url}/_sim/{path}", params={"key": "wrong"})
        assert response.status_code == 403
        assert response.json() == {"error": "Invalid API key"}
    response = httpx.post(f"{sim.base_url}/_sim/advance", json={"seconds": 5})
    assert response.status_code == 403
    assert httpx.get(f"{sim.base_url}/_sim/health").json() == {"ok": True}


def test_orders_records(api: Api, sim: RunningSimulator) -> None:
    api.add(7, link=LINK, comments="a\nb\nc\nd\ne", request_id="rq-1")
    api.order(1, link="https://other", quantity=100)
    records = sim.control.orders()
    assert [r["id"] for r in records] == [1, 2]
    first = records[0]
    assert {
        k: first[k]
        for k in (
            "service",
            "link",
            "quantity",
            "request_id",
            "status",
            "add_requests",
            "charge",
            "created",
        )
    } == {
        "service": 7,
        "link": LINK,
        "quantity": 5,
        "request_id": "rq-1",
        "status": "Pending",
        "add_requests": 1,
        "charge": "0.04000",
        "created": 0.0,
    }
    assert first["params"] == {"comments": "a\nb\nc\nd\ne"}
    assert first["created_at"].endswith("+00:00")
    assert [r["id"] for r in sim.control.orders(link=LINK)] == [1]
    assert [r["id"] for r in sim.control.orders(service=1)] == [2]
    assert [r["id"] for r in sim.control.orders(request_id="rq-1")] == [1]
    assert sim.control.orders(status="Completed") == []
    assert sim.control.links() == {LINK: 1, "https://other": 1}
    raw = httpx.get(f"{sim.base_url}/_sim/orders", params={"key": sim.key, "link": LINK})
    assert raw.json()["count"] == 1


def test_advance_applies_progress(api: Api, sim: RunningSimulator) -> None:
    api.order()
    assert sim.control.advance(12.5) == 12.5
    assert sim.control.orders()[0]["status"] == "In progress"
    assert sim.control.advance(10) == 22.5
    assert sim.control.orders()[0]["status"] == "Completed"
    response = httpx.post(f"{sim.base_url}/_sim/advance", json={"key": sim.key, "seconds": -1})
    assert response.status_code == 400


def test_set_status(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1, quantity=1000)
    result = sim.control.set_status(order=order_id, status="Partial", remains=100, start_count=42)
    assert result["order"]["status"] == "Partial" and result["order"]["frozen"] is True
    assert api("status", order=order_id) == {
        "charge": "0.81000",
        "start_count": "42",
        "status": "Partial",
        "remains": "100",
        "currency": "USD",
    }
    sim.control.set_status(order=order_id, status="Processing")
    sim.control.advance(100)
    assert api("status", order=order_id)["status"] == "Processing"
    url = f"{sim.base_url}/_sim/set_status"
    bad = httpx.post(url, json={"key": sim.key, "order": order_id, "status": "Done"})
    assert bad.status_code == 400
    missing = httpx.post(url, json={"key": sim.key, "order": 999, "status": "Completed"})
    assert missing.status_code == 404


def test_set_status_of_cancel(api: Api, sim: RunningSimulator) -> None:
    order_id = api.order(1)
    cancel_id = api("cancel", order=order_id)[0]["cancel"]
    sim.control.set_status(cancel=cancel_id, status="Rejected")
    sim.control.advance(100)
    assert api("cancel", cancels=str(cancel_id)) == [{"cancel": cancel_id, "status": "Rejected"}]
    assert api("status", order=order_id)["status"] == "Completed"
    assert sim.control.cancels()[0]["status"] == "Rejected"


def test_balance_endpoint(api: Api, sim: RunningSimulator) -> None:
    assert sim.control.set_balance("12.5") == "12.50000"
    assert api("balance") == {"balance": "12.50000", "currency": "USD"}
    assert sim.control.balance() == "12.50000"
    assert api.add(3, link=LINK, quantity=10000) == {"error": "Not enough funds on balance"}


def test_catalog_endpoint(api: Api, sim: RunningSimulator) -> None:
    services = sim.control.catalog(service=1, rate="1.25", max=500)
    assert services[0]["rate"] == "1.25" and services[0]["max"] == "500"
    assert api("services")[0]["rate"] == "1.25"
    assert api.add(1, link=LINK, quantity=501) == {"error": "Quantity more than maximum 500"}
    assert api("status", order=api.order(quantity=400))["charge"] == "0.50000"
    services = sim.control.catalog(remove=2)
    assert 2 not in [s["service"] for s in services]
    assert 2 not in [s["service"] for s in api("services")]
    assert api.add(2, link=LINK, quantity=100) == {"error": "Incorrect service ID"}
    new = {
        "service": 50,
        "name": "New",
        "type": "Default",
        "rate": "2",
        "min": 1,
        "max": 10,
        "category": "X",
    }
    services = sim.control.catalog(**new)
    assert services[-1]["service"] == 50 and services[-1]["rate"] == "2.00"
    response = httpx.post(
        f"{sim.base_url}/_sim/catalog", json={"key": sim.key, "service": 51, "rate": "1"}
    )
    assert response.status_code == 400
    assert len(sim.control.catalog(reset=True)) == 22


def test_faults_endpoint(sim: RunningSimulator) -> None:
    first = sim.control.add_fault("partial:p=0.5")
    second = sim.control.add_fault({"kind": "timeout", "count": 3, "seconds": 2})
    listed = sim.control.faults()
    assert listed == [
        {"id": first, "kind": "partial", "probability": 0.5, "remaining": None},
        {
            "id": second,
            "kind": "timeout",
            "probability": 1.0,
            "count": 3,
            "seconds": 2.0,
            "remaining": 3,
        },
    ]
    url = f"{sim.base_url}/_sim/faults"
    result = httpx.post(url, json={"key": sim.key, "clear_id": first}).json()
    assert [f["kind"] for f in result["faults"]] == ["timeout"]
    result = httpx.post(url, json={"key": sim.key, "set": ["slow:seconds=1", "dialect"]}).json()
    assert [f["kind"] for f in result["faults"]] == ["slow", "dialect"]
    assert sim.control.clear_faults("slow") == 1
    assert sim.control.clear_faults() == 1
    bad = httpx.post(url, json={"key": sim.key, "add": ["explode"]})
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]


def test_stats(api: Api, sim: RunningSimulator) -> None:
    api.order()
    api("status", order=1)
    api("status", orders="1,2,3")
    api("balance")
    httpx.post(sim.api_url, data={"key": "bad", "action": "balance"})
    stats = sim.control.stats()
    assert stats["requests"] == {"add": 1, "status": 2, "balance": 1, "invalid_key": 1}
    assert stats["total"] == 5
    assert stats["ids"] == {"status": 3}
    assert (stats["orders"], stats["add_requests"], stats["balance"]) == (1, 1, "999.10000")
    assert sim.control.reset_stats()["requests"] == {}


def test_reset_endpoint(api: Api, sim: RunningSimulator) -> None:
    api.order()
    sim.control.set_balance(5)
    response = httpx.post(f"{sim.base_url}/_sim/reset", json={"key": sim.key})
    assert response.json()["orders"] == 0
    assert sim.control.orders() == []
    assert api("balance")["balance"] == "1000.00000"


def test_form_encoded_control(sim: RunningSimulator) -> None:
    response = httpx.post(f"{sim.base_url}/_sim/advance", data={"key": sim.key, "seconds": "3"})
    assert response.json() == {"now": 3.0}
