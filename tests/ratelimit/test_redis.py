"""Buckets in Redis: shared by several server processes; Redis down = no limits."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from smmpanel.db import Database
from smmpanel.server import free_port
from tests.e2e.processes import process, smmpanel_env, wait_for, wait_http
from tests.factories import make_customer
from tests.ratelimit.conftest import (
    REDIS_URL,
    assert_too_many,
    limited_panel,
    limited_settings,
    redis_keys,
)

BALANCE = {"balance": "100.00000", "currency": "USD"}
INVALID = {"error": "Invalid API key"}


def test_two_serve_processes_share_their_buckets(
    db: Database, tmp_path: Path, redis_prefix: str
) -> None:
    """Two `smmpanel serve` processes on two ports, one Redis: a key's 10 calls an
    hour are 10 in all (in memory, each process would have served its 7 of the
    14); a wrong-key penalty earned at one holds at the other.  6-12 s: two real
    server processes start, each importing the panel and checking the schema."""
    alice = make_customer(db)
    env = smmpanel_env(
        db.url,
        SMMPANEL_RATE_LIMITS="on",
        SMMPANEL_REDIS_URL=REDIS_URL,
        SMMPANEL_REDIS_PREFIX=redis_prefix,
        SMMPANEL_RATE_LIMIT_KEY="10/hour",
        SMMPANEL_RATE_LIMIT_BURST_SECONDS="3600",
        SMMPANEL_RATE_LIMIT_IP="off",
        SMMPANEL_RATE_LIMIT_FAILED_KEYS="3/hour",
        SMMPANEL_RATE_LIMIT_LOCKOUT="off",
        SMMPANEL_TRUSTED_PROXIES="127.0.0.1",
    )
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"serve-{port}.log" for port in ports]
    with (
        process(env, "serve", "--port", str(ports[0]), log=logs[0]),
        process(env, "serve", "--port", str(ports[1]), log=logs[1]),
    ):
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/healthz")
        apis = [f"http://127.0.0.1:{port}/api/v2" for port in ports]

        def call(n: int, key: str, ip: str = "203.0.113.1") -> httpx.Response:
            data = {"key": key, "action": "balance"}
            return httpx.post(apis[n % 2], data=data, headers={"X-Forwarded-For": ip})

        answers = [call(n, alice.key) for n in range(14)]
        assert [a.status_code for a in answers] == [200] * 10 + [429] * 4
        assert answers[0].json() == BALANCE
        for refused in answers[10:]:
            assert_too_many(refused)
        # Four wrong keys at the first process; the second refuses the address.
        assert [call(0, "wrong", ip="203.0.113.9").json() for _ in range(4)] == [INVALID] * 4
        assert_too_many(call(1, "wrong", ip="203.0.113.9"))
        assert call(1, "wrong", ip="203.0.113.10").json() == INVALID
    assert redis_keys(redis_prefix)  # the buckets were in Redis, under the test's prefix


def test_redis_down_serves_without_limits_and_warns_once(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    alice = make_customer(db)
    closed = free_port()
    settings = limited_settings(
        rate_limit_key="2/hour",
        rate_limit_failed_keys="1/hour",
        redis_url=f"redis://:s3cret-password@127.0.0.1:{closed}/0",
    )
    with (
        caplog.at_level(logging.WARNING, logger="smmpanel.ratelimit"),
        limited_panel(db, settings) as panel,
    ):
        assert [panel.call(alice.key).json() for _ in range(10)] == [BALANCE] * 10
        assert [panel.call("wrong").json() for _ in range(5)] == [INVALID] * 5
    warnings = [r.getMessage() for r in caplog.records if r.name == "smmpanel.ratelimit"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("rate limits are off: their store does not answer")
    assert "s3cret" not in caplog.text


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_limits_come_back_with_redis(db: Database, tmp_path: Path) -> None:
    """A Redis of the test's own starts on the configured port after the panel:
    calls go unlimited until it answers, then are limited again (after the
    store's retry time, 2 s: hence ~3 s)."""
    alice = make_customer(db)
    port = free_port()
    settings = limited_settings(rate_limit_key="3/hour", redis_url=f"redis://127.0.0.1:{port}/0")
    with limited_panel(db, settings) as panel:
        assert panel.statuses(alice.key, 6) == [200] * 6
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            refused = wait_for(
                lambda: panel.call(alice.key).status_code == 429, timeout=15, what="a 429"
            )
            assert refused
        finally:
            server.terminate()
            server.wait(10)
