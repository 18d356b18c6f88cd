"""Panels with rate limits on, and clients that call them from chosen addresses.

The suite's environment turns limits off (tests/conftest.py); these helpers turn
them on through Settings.  The server trusts X-Forwarded-For from 127.0.0.1, so
a test picks each call's client address with that header.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis

from smmpanel.api_v2.app import create_app
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.cli.conftest import run  # noqa: F401  (the `run` fixture of the CLI tests)

HOUR = 3600


def limited_settings(**fields: Any) -> Settings:
    """Limits on, each one off unless given; buckets of an hour (so a test's
    calls never see one refill) and the local proxy trusted."""
    values: dict[str, Any] = {
        "rate_limits": True,
        "rate_limit_key": "off",
        "rate_limit_ip": "off",
        "rate_limit_failed_keys": "off",
        "rate_limit_lockout": "off",
        "rate_limit_burst_seconds": HOUR,
        "redis_url": "",
        "trusted_proxies": "127.0.0.1",
    }
    values.update(fields)
    return Settings(**values)


@contextmanager
def limited_panel(db: Database, settings: Settings) -> Iterator[Panel]:
    clear_of_window_edge(HOUR)
    app = create_app(db, settings=settings)
    with serve_in_thread(app, settings=settings) as url, httpx.Client(base_url=url) as client:
        yield Panel(client)


class Panel:
    """Calls to /api/v2, each from a chosen client address."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def call(self, key: str, ip: str = "203.0.113.1", **params: str) -> httpx.Response:
        data = {"key": key, "action": "balance", **params}
        return self.client.post("/api/v2", data=data, headers={"X-Forwarded-For": ip})

    def statuses(self, key: str, times: int, ip: str = "203.0.113.1") -> list[int]:
        return [self.call(key, ip).status_code for _ in range(times)]


def assert_too_many(response: httpx.Response, *, at_least: int = 1, at_most: int = HOUR) -> int:
    """A 429 as clients see it; its Retry-After, in whole seconds."""
    assert response.status_code == 429, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] == "application/json"
    assert response.json() == {"error": "Too many requests"}
    retry_after = int(response.headers["retry-after"])
    assert at_least <= retry_after <= at_most, retry_after
    return retry_after


def clear_of_window_edge(window: int, margin: float = 3.0) -> None:
    """In-memory buckets are counted in windows aligned to the clock; a test that
    counts calls exactly starts clear of a window's end (waits up to `margin`)."""
    into = time.time() % window
    if into > window - margin:
        time.sleep(window - into + 0.05)


# --- Redis ------------------------------------------------------------------------

REDIS_URL = os.environ.get("SMMPANEL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the test Redis; its keys are deleted after."""
    if os.environ.get("SMMPANEL_TEST_REDIS", "").lower() == "skip":
        pytest.skip("SMMPANEL_TEST_REDIS=skip")
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__}); start it, point "
            "SMMPANEL_TEST_REDIS_URL at one, or set SMMPANEL_TEST_REDIS=skip"
        )
    prefix = f"smmpanel-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def redis_keys(prefix: str) -> list[bytes]:
    with redis.Redis.from_url(REDIS_URL, socket_timeout=5) as client:
        return list(client.scan_iter(match=f"{prefix}:*"))
