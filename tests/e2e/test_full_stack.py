"""Panel, worker and provider simulator as separate processes, over real HTTP,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from smmpanel.db import Database
from smmpanel.server import free_port
from smmpanel.tokens import new_token
from tests.e2e.processes import process, run_cli, smmpanel_env, wait_for, wait_http

CENT = Decimal("0.00001")  # money has 5 places
FAST = {
    "SMMPANEL_STATUS_SYNC_SECONDS": "1",
    "SMMPANEL_RECONCILE_SECONDS": "2",
    "SMMPANEL_DRIPFEED_SECONDS": "1",
}


@dataclass
class Stack:
    api: str
    key: str
    simulator: str
    simulator_key: str
    env: dict[str, str]

    def call(self, **params: Any) -> Any:
        answer = httpx.post(self.api, data={"key": self.key, **params}, timeout=30)
        assert answer.status_code == 200
        return answer.json()

    def sim(self, path: str, **body: Any) -> Any:
        url = f"{self.simulator}/_sim/{path}"
        if body:
            return httpx.post(url, json={"key": self.simulator_key, **body}, timeout=10).json()
        return httpx.get(url, params={"key": self.simulator_key}, timeout=10).json()


@pytest.fixture
def stack(db: Database, tmp_path: Path) -> Iterator[Stack]:
    env = smmpanel_env(db.url, **FAST)
    sim_port, api_port = free_port(), free_port()
    sim_key = new_token(24)
    simulator = f"http://127.0.0.1:{sim_port}"
    with process(
        env,
        "simulate-provider",
        "--port",
        str(sim_port),
        "--key",
        sim_key,
        "--speed",
        "0.5",
        "--subscription-interval",
        "1",
        log=tmp_path / "simulator.log",
    ):
        wait_http(f"{simulator}/_sim/health")
        run_cli(env, "db", "upgrade")
        run_cli(
            env,
            "providers",
            "add",
            "sim",
            f"{simulator}/api/v2",
            sim_key,
            "--lookup-url",
            f"{simulator}/_sim/orders",
            "--timeout",
            "5",
        )
        run_cli(env, "providers", "import", "sim", "--markup", "25%", "--round", "2")
        key = run_cli(env, "users", "add", "alice").strip().splitlines()[-1]
        run_cli(env, "users", "fund", "alice", "100")
        with (
            process(env, "serve", "--port", str(api_port), log=tmp_path / "api.log"),
            process(env, "worker", "--poll", "0.1", log=tmp_path / "worker.log"),
        ):
            wait_http(f"http://127.0.0.1:{api_port}/healthz")
            yield Stack(f"http://127.0.0.1:{api_port}/api/v2", key, simulator, sim_key, env)


ORDERS: list[dict[str, Any]] = [
    {"service": 1, "link": "https://e2e.test/default", "quantity": 100},
    {"service": 2, "link": "https://e2e.test/partial", "quantity": 1000},
    {"service": 5, "link": "https://e2e.test/canceled", "quantity": 1000},
    {"service": 6, "link": "https://e2e.test/package"},
    {"service": 7, "link": "https://e2e.test/comments", "comments": "nice\ngreat\nwow\nok\nyes"},
    {"service": 8, "link": "https://e2e.test/comments-package", "comments": "a\nb"},
    {"service": 9, "link": "https://e2e.test/mentions", "quantity": 100, "usernames": "a\nb"},
    {
        "service": 10,
        "link": "https://e2e.test/mentions-tags",
        "quantity": 100,
        "usernames": "a\nb",
        "hashtags": "#x\n#y",
    },
    {"service": 11, "link": "https://e2e.test/mentions-list", "usernames": "a\nb\nc"},
    {"service": 12, "link": "https://e2e.test/hashtag", "quantity": 100, "hashtag": "#smm"},
    {"service": 13, "link": "https://e2e.test/followers", "quantity": 100, "username": "star"},
    {"service": 14, "link": "https://e2e.test/likers", "quantity": 100, "media": "https://m/1"},
    {"service": 15, "link": "https://e2e.test/comment-likes", "quantity": 20, "username": "c1"},
    {"service": 16, "link": "https://e2e.test/replies", "username": "bob", "comments": "hi"},
    {"service": 17, "link": "https://e2e.test/poll", "quantity": 100, "answer_number": 2},
    {"service": 18, "link": "https://e2e.test/invites", "quantity": 100, "groups": "g1\ng2"},
    {"service": 19, "link": "https://e2e.test/seo", "quantity": 1000, "keywords": "a,b"},
    {
        "service": 20,
        "link": "https://e2e.test/traffic",
        "quantity": 500,
        "country": "US",
        "device": 1,
        "type_of_traffic": 1,
        "google_keyword": "smm",
    },
]


def test_orders_of_every_forwarded_type_end_with_the_right_refunds(stack: Stack) -> None:
    stack.sim(
        "faults",
        add=[{"kind": "partial", "service": 2, "fraction": 0.3}, {"kind": "cancel", "service": 5}],
    )
    rates = {s["service"]: Decimal(s["rate"]) for s in stack.call(action="services")}
    placed = {}
    for params in ORDERS:
        answer = stack.call(action="add", **params)
        assert "order" in answer, (params, answer)
        placed[answer["order"]] = params
    ids = ",".join(str(i) for i in placed)

    def all_final() -> dict[str, Any] | None:
        statuses = stack.call(action="status", orders=ids)
        final = all(s["status"] in ("Completed", "Partial", "Canceled") for s in statuses.values())
        return statuses if final else None

    statuses = wait_for(all_final, timeout=90, what="every order to end")
    expected_balance = Decimal(100)
    for order_id, params in placed.items():
        status = statuses[str(order_id)]
        charge = Decimal(status["charge"])  # what the order costs now, refunds taken off
        expected_balance -= charge
        if params["service"] == 2:
            assert (status["status"], status["remains"]) == ("Partial", "300")
            delivered = int(params["quantity"]) - 300
            assert charge == (rates[2] * delivered / 1000).quantize(CENT, ROUND_HALF_UP)
        elif params["service"] == 5:
            assert (status["status"], charge) == ("Canceled", 0)
        else:
            assert (status["status"], status["remains"]) == ("Completed", "0"), (params, status)
    assert Decimal(stack.call(action="balance")["balance"]) == expected_balance
    links = stack.sim("links")["links"]
    assert links == {p["link"]: 1 for p in ORDERS}  # one upstream order per local order
    assert "ledger ok" in run_cli(stack.env, "ledger", "check")


def test_subscription_posts_are_charged_as_they_come(stack: Stack) -> None:
    placed = stack.call(
        action="add", service=21, username="brand", min=50, max=100, posts=2, delay=0
    )
    order_id = placed["order"]
    final = wait_for(
        lambda: (s := stack.call(action="status", order=order_id))["status"] == "Completed" and s,
        timeout=90,
        what="the subscription to complete",
    )
    records = stack.sim("orders")["orders"]
    [upstream] = [r for r in records if r["kind"] == "subscription"]
    assert upstream["posts_made"] == 2
    rate = Decimal(next(s["rate"] for s in stack.call(action="services") if s["service"] == 21))
    # Each post is charged for the units it got upstream (50 to 100), not for max.
    cost = sum(
        (rate * r["quantity"] / 1000).quantize(CENT, ROUND_HALF_UP)
        for r in records
        if r["parent"] == upstream["id"]
    )
    wait_for(  # a post charged at max until its own status is read is settled then
        lambda: Decimal(stack.call(action="status", order=order_id)["charge"]) == cost,
        timeout=30,
        what="the subscription's charge to be what its posts cost",
    )
    assert Decimal(final["charge"]) <= 2 * (rate * 100 / 1000).quantize(CENT, ROUND_HALF_UP)
    assert Decimal(stack.call(action="balance")["balance"]) == Decimal(100) - cost
    assert "ledger ok" in run_cli(stack.env, "ledger", "check")


def test_refill_round_trips_through_the_provider(stack: Stack) -> None:
    order = stack.call(action="add", service=1, link="https://e2e.test/refill", quantity=100)
    order_id = order["order"]
    wait_for(
        lambda: stack.call(action="status", order=order_id)["status"] == "Completed",
        timeout=60,
        what="the order to complete",
    )
    refill = stack.call(action="refill", order=order_id)
    refill_id = refill["refill"]
    assert wait_for(
        lambda: stack.call(action="refill_status", refill=refill_id)["status"] == "Completed",
        timeout=60,
        what="the refill to complete",
    )
    assert len(stack.sim("refills")["refills"]) == 1
