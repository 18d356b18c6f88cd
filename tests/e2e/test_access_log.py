"""`smmpanel serve` with the access log on: no API key in any log line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from smmpanel.db import Database
from smmpanel.server import free_port
from tests.e2e.processes import process, smmpanel_env, wait_for, wait_http
from tests.factories import make_customer


@pytest.mark.parametrize("workers", ["1", "2"])
def test_access_log_never_shows_a_key(db: Database, tmp_path: Path, workers: str) -> None:
    """GET /api/v2?key=... used to be logged with the full key."""
    alice = make_customer(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = smmpanel_env(db.url, SMMPANEL_ACCESS_LOG="1")
    with process(env, "serve", "--port", str(port), "--workers", workers, log=log):
        wait_http(f"{base}/healthz")
        api = f"{base}/api/v2"
        assert httpx.get(api, params={"key": alice.key, "action": "balance"}).json()["balance"]
        assert httpx.get(f"{api}/", params={"action": "balance", "key": alice.key}).is_success
        httpx.get(f"{base}/nowhere", params={"api_key": alice.key, "token": "t0ken-value"})
        httpx.post(api, params={"key": alice.key}, data={"action": "balance"})
        httpx.post(api, content=json.dumps({"key": alice.key, "action": "balance"}))
        httpx.request("HEAD", api, params={"key": alice.key, "action": "balance"})
        wait_for(lambda: log.read_text().count("/nowhere?api_key=***") == 1, what="the log")
        wait_for(lambda: log.read_text().count("HEAD /api/v2?key=***") == 1, what="the log")
    text = log.read_text()
    assert alice.key not in text
    assert "t0ken-value" not in text
    assert "GET /api/v2?key=***&action=balance HTTP/1.1" in text
    assert "GET /api/v2/?action=balance&key=*** HTTP/1.1" in text
    assert text.count("200 OK") >= 4
