"""`serve --workers 2`: each process counts its own calls in files of the
metrics directory, and a scrape answered by either process sums both."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from smmpanel.db import Database
from smmpanel.metrics.multiproc import metrics_directory
from smmpanel.metrics.recorder import MULTIPROC_ENV
from smmpanel.server import free_port
from tests.e2e.processes import process, smmpanel_env, wait_for, wait_http
from tests.factories import make_customer
from tests.metrics.scrape import Samples

BURST = 120


def test_counts_aggregate_over_two_processes(db: Database, tmp_path: Path) -> None:
    alice = make_customer(db, balance="10")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999999.db").write_bytes(b"left over from an earlier run")
    env = smmpanel_env(db.url, **{MULTIPROC_ENV: str(directory)})
    log = tmp_path / "serve.log"
    sent = 0
    with process(env, "serve", "--port", str(port), "--workers", "2", log=log):
        # Both processes serving before the load: a loaded machine starts them slowly
        # (uvicorn restarts one that does not answer its 5 s health ping).
        wait_for(lambda: log.read_text().count("Application startup complete") >= 2, timeout=180)
        wait_http(f"{base}/healthz", timeout=60)

        def balance(_n: int) -> None:
            # A connection of its own each time: either process may take it.
            answer = httpx.post(f"{base}/api/v2", data={"key": alice.key, "action": "balance"})
            assert answer.json() == {"balance": "10.00000", "currency": "USD"}

        for _ in range(20):  # until both processes have served some calls
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(balance, range(BURST)))
            sent += BURST
            if len(list(directory.glob("counter_*.db"))) >= 2:
                break
        counting = {file.name for file in directory.glob("counter_*.db")}
        assert len(counting) == 2, counting  # the stale file was removed, two processes count
        wrong = httpx.post(f"{base}/api/v2", data={"key": "nope", "action": "balance"}).json()
        assert wrong == {"error": "Invalid API key"}
        for _ in range(6):  # fresh connections: the scrapes are answered by both
            scraped = httpx.get(f"{base}/metrics", timeout=30)
            assert scraped.status_code == 200, scraped.text
            samples = Samples(scraped.text)
            count = "smmpanel_api_requests_total"
            assert samples.value(count, action="balance", outcome="ok") == sent
            assert samples.value(count, action="balance", outcome="error") == 1
            duration = "smmpanel_api_request_duration_seconds_count"
            assert samples.value(duration, action="balance") == sent + 1
            assert samples["smmpanel_metrics_db_up"] == 1
    assert log.read_text().count("Started server process") == 2
    # The owner's directory stays (it is theirs); its files say what the run counted.
    assert directory.is_dir()


def test_serve_makes_and_removes_a_directory_of_its_own() -> None:
    saved = os.environ.pop(MULTIPROC_ENV, None)
    try:
        with metrics_directory(1) as none:
            assert none is None and MULTIPROC_ENV not in os.environ
        with metrics_directory(2) as made:
            assert made is not None and Path(made).is_dir()
            assert os.environ[MULTIPROC_ENV] == made
        assert not Path(made).exists() and MULTIPROC_ENV not in os.environ
    finally:
        if saved is not None:
            os.environ[MULTIPROC_ENV] = saved
