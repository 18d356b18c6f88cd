"""Resident memory of `smmpanel serve` and `smmpanel worker` under steady load.

    python bench/bench_memory.py [--minutes 10] [--clients 4] [--database-url URL]
                                 [--interval 10]

Starts the provider simulator, then `serve` (one process) and `worker` on a
fresh database (SQLite in a temporary file unless --database-url names an
empty PostgreSQL database), and loads the API from a few client threads with
a mix of `add`, `status` (of 1 and of 100 ids), `balance` and `services`; the
worker forwards every order to the simulator and syncs statuses back every
few seconds.  Every `--interval` seconds it samples the resident set size
(VmRSS in /proc, Linux only) of both processes and prints it; at the end it
prints start, maximum, end and slope (MB per minute, least squares) of each
series and PASS/FAIL against:

- at most 150 MB resident at every sample, and
- flat: growth over the second half of the run (last sample against the
  sample at the half-way mark) below 5 %.  The first half includes warm-up
  (imports done lazily, caches of compiled SQL, connection pools filling).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.server import free_port
from smmpanel.tokens import new_token

SMMPANEL = [sys.executable, "-c", "from smmpanel.cli import main; main()"]
LIMIT_MB = 150.0
FLAT_GROWTH = 0.05


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_")}
    # A bench-only secret key (new each run) and loopback provider URLs.
    from cryptography.fernet import Fernet

    env.update(
        SMMPANEL_DATABASE_URL=database_url,
        SMMPANEL_SECRET_KEY=Fernet.generate_key().decode(),
        SMMPANEL_ALLOW_PRIVATE_URLS="1",
        SMMPANEL_RATE_LIMITS="off",
        SMMPANEL_STATUS_SYNC_SECONDS="5",
        SMMPANEL_RECONCILE_SECONDS="30",
        SMMPANEL_DRIPFEED_SECONDS="5",
        PYTHONUNBUFFERED="1",
    )
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*SMMPANEL, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"smmpanel {args[0]} failed: {done.stderr}")
    return done.stdout


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def rss_mb(pid: int) -> float:
    """Resident set size of one process in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Load:
    """Client threads calling the API until stopped; counts calls by action."""

    api: str
    key: str
    clients: int
    stop: threading.Event = field(default_factory=threading.Event)
    calls: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _body(self, rng: random.Random, slot: int, n: int) -> dict[str, str]:
        action = rng.choice(("add", "add", "status", "status100", "balance", "services"))
        with self._lock:
            known = self.order_ids[-1000:]
        if action == "add" or (not known and action.startswith("status")):
            link = f"https://memory.bench/{slot}-{n}"
            return {"action": "add", "service": "1", "link": link, "quantity": "100"}
        if action == "status":
            return {"action": "status", "order": str(rng.choice(known))}
        if action == "status100":
            ids = ",".join(str(rng.choice(known)) for _ in range(100))
            return {"action": "status", "orders": ids}
        return {"action": action}

    def _run(self, slot: int) -> None:
        rng = random.Random(slot)
        n = 0
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                body = self._body(rng, slot, n)
                n += 1
                try:
                    answer = client.post(self.api, data={"key": self.key, **body}).json()
                except httpx.HTTPError as exc:
                    self._error(f"{body['action']}: {exc!r}")
                    continue
                self._count(body, answer)

    def _count(self, body: dict[str, str], answer: Any) -> None:
        name = "status100" if "orders" in body else body["action"]
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            if isinstance(answer, dict) and "error" in answer:
                self.errors.append(f"{name}: {answer['error']}")
            elif name == "add":
                self.order_ids.append(int(answer["order"]))
                del self.order_ids[:-5000]

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)


def slope_per_minute(series: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB per minute."""
    if len(series) < 2:
        return 0.0
    n = len(series)
    mean_t = sum(t for t, _ in series) / n
    mean_v = sum(v for _, v in series) / n
    num = sum((t - mean_t) * (v - mean_v) for t, v in series)
    den = sum((t - mean_t) ** 2 for t, _ in series)
    return num / den * 60 if den else 0.0


def verdict(series: list[tuple[float, float]]) -> tuple[str, float]:
    """PASS or FAIL (with the reason) and the growth over the second half."""
    peak = max(v for _, v in series)
    half = series[len(series) // 2][1]
    growth = (series[-1][1] - half) / half
    reasons = []
    if peak > LIMIT_MB:
        reasons.append(f"max {peak:.1f} MB > {LIMIT_MB:.0f} MB")
    if growth >= FLAT_GROWTH:
        reasons.append(f"second half grew {growth:.1%} >= {FLAT_GROWTH:.0%}")
    return ("FAIL: " + "; ".join(reasons) if reasons else "PASS"), growth


def _process(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*SMMPANEL, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smmpanel-memory-"))
    env = _env(options.database_url or f"sqlite:///{work / 'bench.db'}")
    sim_port, api_port = free_port(), free_port()
    sim_key = new_token(24)
    simulator = f"http://127.0.0.1:{sim_port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Orders complete after 2 stages of 5 s, so statuses keep moving.
        procs.append(
            _process(
                env,
                work / "simulator.log",
                *("simulate-provider", "--port", str(sim_port), "--key", sim_key),
                *("--speed", "5", "--balance", "100000000"),
            )
        )
        _wait_http(f"{simulator}/_sim/health")
        _cli(env, "db", "upgrade")
        _cli(env, "providers", "add", "sim", f"{simulator}/api/v2", sim_key, "--timeout", "10")
        _cli(env, "providers", "import", "sim", "--markup", "25%", "--round", "2")
        key = _cli(env, "users", "add", "bench").strip().splitlines()[-1]
        _cli(env, "users", "fund", "bench", "100000000")
        serve = _process(env, work / "serve.log", "serve", "--port", str(api_port))
        worker = _process(env, work / "worker.log", "worker", "--poll", "0.2")
        procs += [serve, worker]
        _wait_http(f"http://127.0.0.1:{api_port}/healthz")
        run(options, serve.pid, worker.pid, f"http://127.0.0.1:{api_port}/api/v2", key)
        stats = httpx.get(f"{simulator}/_sim/stats", params={"key": sim_key}, timeout=30).json()
        print(
            f"simulator: {stats['orders']} orders forwarded to it, "
            f"{stats['requests'].get('status', 0)} status calls"
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(f"logs in {work}")


def run(options: argparse.Namespace, serve: int, worker: int, api: str, key: str) -> None:
    load = Load(api, key, options.clients)
    threads = load.start()
    series: dict[str, list[tuple[float, float]]] = {"serve": [], "worker": []}
    started = time.monotonic()
    end = started + options.minutes * 60
    print(f"{'seconds':>8}{'serve MB':>10}{'worker MB':>11}{'calls':>9}")
    while True:
        at = time.monotonic() - started
        series["serve"].append((at, rss_mb(serve)))
        series["worker"].append((at, rss_mb(worker)))
        with load._lock:
            calls = sum(load.calls.values())
        print(
            f"{at:>8.0f}{series['serve'][-1][1]:>10.1f}{series['worker'][-1][1]:>11.1f}{calls:>9}"
        )
        if time.monotonic() >= end:
            break
        time.sleep(min(options.interval, max(0.0, end - time.monotonic())))
    load.stop.set()
    for thread in threads:
        thread.join(35)
    minutes = (time.monotonic() - started) / 60
    print(
        f"load: {options.clients} clients, {minutes:.1f} min, "
        + ", ".join(f"{k} {v}" for k, v in sorted(load.calls.items()))
        + f"; errors {len(load.errors)}"
    )
    for text in sorted(set(load.errors))[:5]:
        print(f"  error: {text}")
    print(f"{'process':<8}{'start MB':>10}{'max MB':>9}{'end MB':>9}{'MB/min':>9}  verdict")
    for name, points in series.items():
        result, growth = verdict(points)
        print(
            f"{name:<8}{points[0][1]:>10.1f}{max(v for _, v in points):>9.1f}"
            f"{points[-1][1]:>9.1f}{slope_per_minute(points):>9.2f}  {result}"
            f" (second half {growth:+.1%})"
        )


if __name__ == "__main__":
    main()
