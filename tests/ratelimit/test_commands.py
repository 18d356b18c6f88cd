"""`smmpanel serve` applies the rate-limit settings; `smmpanel demo` runs without."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from smmpanel.db import Database
from smmpanel.server import free_port, serve_in_thread
from tests.cli.conftest import invoke, last_line
from tests.factories import make_customer

# 2 calls a key, in a bucket of an hour.
STRICT = {
    "SMMPANEL_RATE_LIMITS": "on",
    "SMMPANEL_RATE_LIMIT_KEY": "2/hour",
    "SMMPANEL_RATE_LIMIT_BURST_SECONDS": "3600",
}


def _served_app(monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]) -> Any:
    """Run the command with its serving caught: the app and options it would serve.
    It still binds its port: a free one, never the default 8000, which another
    test process may be binding at the same moment."""
    calls: list[dict[str, Any]] = []

    def caught(_listener: socket.socket, config: uvicorn.Config) -> None:
        calls.append(
            {
                "app": config.app,
                "proxy_headers": config.proxy_headers,
                "forwarded_allow_ips": config.forwarded_allow_ips,
            }
        )

    monkeypatch.setattr("smmpanel.cli.server.serve_on", caught)
    result = invoke(args, env=env)
    assert result.exit_code == 0, result.output
    (call,) = calls
    return call, result


def _balances(app: Any, key: str, times: int) -> list[int]:
    with serve_in_thread(app) as url:
        data = {"key": key, "action": "balance"}
        return [httpx.post(f"{url}/api/v2", data=data).status_code for _ in range(times)]


def test_serve_applies_the_limits_and_the_trusted_proxies(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_customer(db)
    env = {**STRICT, "SMMPANEL_TRUSTED_PROXIES": "10.0.0.1"}
    call, _ = _served_app(
        monkeypatch, ["--database-url", db.url, "serve", "--port", str(free_port())], env
    )
    assert (call["proxy_headers"], call["forwarded_allow_ips"]) == (True, ["10.0.0.1"])
    assert _balances(call["app"], alice.key, 3) == [200, 200, 429]


def test_serve_trusts_no_proxy_by_default(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    call, _ = _served_app(
        monkeypatch, ["--database-url", db.url, "serve", "--port", str(free_port())], {}
    )
    assert call["proxy_headers"] is False


def test_the_demo_serves_without_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.chdir(tmp_path)
    call, result = _served_app(
        monkeypatch, ["demo", "--database-url", db.url, "--port", str(free_port())], STRICT
    )
    assert _balances(call["app"], last_line(result), 5) == [200] * 5
