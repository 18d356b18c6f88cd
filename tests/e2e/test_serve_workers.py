"""`smmpanel serve --workers 2`: real uvicorn worker processes answer /api/v2."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from smmpanel.db import Database
from smmpanel.server import free_port
from tests.e2e.processes import process, smmpanel_env, wait_http
from tests.factories import make_customer, make_service


def test_serve_with_two_workers_answers_the_api(db: Database, tmp_path: Path) -> None:
    service = make_service(db)
    alice = make_customer(db, balance="10")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v2"
    log = tmp_path / "serve.log"
    with process(smmpanel_env(db.url), "serve", "--port", str(port), "--workers", "2", log=log):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        added = httpx.post(
            api,
            data={
                "key": alice.key,
                "action": "add",
                "service": str(service),
                "link": "https://example.com/p/1",
                "quantity": "100",
            },
        ).json()
        assert set(added) == {"order"}, added
        # Fresh connections, so that both processes are likely to answer some.
        for _ in range(6):
            status = httpx.post(
                api, data={"key": alice.key, "action": "status", "order": added["order"]}
            ).json()
            assert (status["charge"], status["status"]) == ("0.09000", "Pending")
        # One keep-alive connection: without TCP_NODELAY each request past the
        # first waits ~40 ms for a delayed ACK (uvicorn binds the shared socket
        # with proto 0); 30 of them would take over a second.
        with httpx.Client() as client:
            started = time.monotonic()
            for _ in range(30):
                answer = client.post(api, data={"key": alice.key, "action": "balance"}).json()
                assert answer == {"balance": "9.91000", "currency": "USD"}
            assert time.monotonic() - started < 1.0
        wrong = httpx.post(api, data={"key": "nope", "action": "balance"}).json()
        assert wrong == {"error": "Invalid API key"}
        # Both processes start, the second maybe after these calls were answered
        # (each builds the app, over a second on a loaded machine).
        _wait_for_text(log, "Started server process", count=2, seconds=60)
    assert log.read_text().count("Started server process") == 2


def _wait_for_text(log: Path, text: str, *, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while log.read_text().count(text) < count and time.monotonic() < deadline:
        time.sleep(0.1)
