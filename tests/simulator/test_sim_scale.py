"""10,000 orders synced with status calls of 100 ids, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from smmpanel.simulator.state import SimState
from smmpanel.simulator.testing import RunningSimulator


def test_ten_thousand_orders_status_in_batches(
    sim: RunningSimulator, fresh: Callable[..., SimState]
) -> None:
    state = fresh(balance="100000", speed=10)
    # Placing 10,000 orders in-process keeps the test fast; the sync below is all HTTP.
    for n in range(10_000):
        state.add({"service": "2", "link": f"https://ig/p/{n}", "quantity": "100"})
    state.advance(20)
    state.set_order(5000, status="Partial", remains=10)
    started = time.perf_counter()
    seen: dict[str, dict[str, str]] = {}
    with httpx.Client(timeout=10) as client:
        for first in range(1, 10_001, 100):
            ids = ",".join(str(i) for i in range(first, first + 100))
            answer = client.post(
                sim.api_url, data={"key": sim.key, "action": "status", "orders": ids}
            ).json()
            assert len(answer) == 100
            seen.update(answer)
    elapsed = time.perf_counter() - started
    assert len(seen) == 10_000
    assert sum(v["status"] == "Completed" for v in seen.values()) == 9_999
    assert seen["5000"] == {
        "charge": "0.02250",
        "start_count": seen["5000"]["start_count"],
        "status": "Partial",
        "remains": "10",
        "currency": "USD",
    }
    stats = sim.control.stats()
    assert stats["requests"] == {"status": 100}
    assert stats["ids"] == {"status": 10_000}
    assert stats["orders"] == 10_000
    assert elapsed < 15, elapsed


def test_many_adds_over_http(sim: RunningSimulator) -> None:
    with httpx.Client(timeout=10) as client:
        for n in range(300):
            answer = client.post(
                sim.api_url,
                data={
                    "key": sim.key,
                    "action": "add",
                    "service": "2",
                    "link": f"https://x/{n}",
                    "quantity": "10",
                },
            ).json()
            assert answer == {"order": n + 1}
    links = sim.control.links()
    assert len(links) == 300 and set(links.values()) == {1}
    assert sim.control.stats()["requests"] == {"add": 300}
