"""Throughput of /api/v2 against a bare Starlette baseline, measured in one run.

    python bench/bench_api.py [--seconds 5] [--concurrency 16] [--database-url URL]
                              [--workers 1 2] [--rate-limits on|off] [--services 2]
                              [--actions balance add status status100 services]

Starts a bare Starlette app that parses the body and answers JSON (the
ceiling for any route on this machine, one uvicorn process), once with each
of uvicorn's HTTP/1.1 parsers (h11, which the issue's first figures were
measured with, and httptools, which the panel serves with), then the panel
with each number of worker processes given (`smmpanel serve --workers N`).
The load comes from `wrk` when it is installed (Debian package `wrk`), else
from Python client threads, which saturate long before the server does;
either way the result is requests per second and the ratios to both
baselines of the same run, so numbers from different machines compare.

`--rate-limits on` (the default, as `serve` runs) checks every call against
in-memory buckets too large ever to refuse one, so their cost is measured;
`off` serves without them.  `--services N`: the catalog's size (imported as a
`services` answer; the first is the one `add` orders).  `status` asks for
order 1, `status100` for orders 1-100 in one call (100 orders are placed
before the first measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smmpanel.secretbox import new_key
from smmpanel.server import free_port

BASELINE_APP = """
from urllib.parse import parse_qsl
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def endpoint(request):
    params = dict(parse_qsl((await request.body()).decode()))
    return JSONResponse({"balance": "1.00000", "currency": "USD", "n": len(params)})

app = Starlette(routes=[Route("/api/v2", endpoint, methods=["POST"])])
"""


def _start(
    args: list[str], env: dict[str, str], port: int, processes: int = 0
) -> subprocess.Popen[bytes]:
    """Start a server; with `processes`, wait until that many uvicorn workers
    logged their start-up (load sent while one still starts lands on the others
    and stays there: keep-alive connections)."""
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    started = 0
    while started < processes:
        line = process.stderr.readline()
        if not line:
            break
        started += b"Application startup complete" in line
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(
        f"server on {port} did not start: {process.stderr.read() if process.stderr else ''}"
    )


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local counter = 0
function setup(thread) thread:set("id", math.random(1, 1000000000)) end
function request()
  counter = counter + 1
  local body = BODY:gsub("{n}", id .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end
"""


ACTIONS = ("balance", "add", "status", "status100", "services")
STATUS_ORDERS = 100


def _wrk(url: str, body: str, seconds: float, connections: int, work: Path) -> tuple[float, int]:
    """Requests per second and requests made, from wrk, with `{n}` in the body
    made unique per request."""
    script = work / "load.lua"
    script.write_text(f"BODY = {body!r}\n" + WRK_SCRIPT)
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{max(1, int(seconds))}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in done.stdout:
        raise RuntimeError(done.stdout)
    line = next(x for x in done.stdout.splitlines() if x.startswith("Requests/sec:"))
    made = next(x for x in done.stdout.splitlines() if " requests in " in x)
    return float(line.split()[1]), int(made.split()[0])


def _load(
    url: str, make_body: Callable[[int], dict[str, str]], seconds: float, threads: int
) -> tuple[float, int]:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def run(slot: int) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while time.monotonic() < stop:
                answer = client.post(url, data=make_body(slot * 10_000_000 + n))
                if answer.status_code != 200 or "error" in answer.json():
                    raise RuntimeError(answer.text)
                n += 1
            done[slot] = n

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(done) / (time.monotonic() - started), sum(done)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="uvicorn processes, one run each"
    )
    parser.add_argument("--rate-limits", choices=["on", "off"], default="on")
    parser.add_argument("--services", type=int, default=2, help="services in the catalog")
    parser.add_argument(
        "--actions", nargs="+", choices=ACTIONS, default=list(ACTIONS), help="what to measure"
    )
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smmpanel-bench-"))
    url = options.database_url or f"sqlite:///{work / 'bench.db'}"
    env = {**os.environ, "SMMPANEL_DATABASE_URL": url, **_rate_limits(options.rate_limits)}
    # `serve` refuses to start without one (it encrypts provider keys).
    env.setdefault("SMMPANEL_SECRET_KEY", new_key())
    (work / "baseline.py").write_text(BASELINE_APP)
    smmpanel = [sys.executable, "-c", "from smmpanel.cli import main; main()"]
    subprocess.run([*smmpanel, "db", "upgrade"], env=env, check=True, capture_output=True)
    catalog = work / "catalog.json"
    catalog.write_text(json.dumps(_catalog(options.services)))
    subprocess.run(
        [*smmpanel, "services", "import", str(catalog)], env=env, check=True, capture_output=True
    )
    made = subprocess.run(
        [*smmpanel, "users", "add", "bench"], env=env, capture_output=True, text=True
    )
    if made.returncode != 0:
        # A database measured before holds its catalog, orders and user: the
        # figures would not compare with a new panel's.
        sys.exit(
            "bench_api.py: the database already has a 'bench' user; measure on an empty "
            f"database (PostgreSQL: drop and create it again): {made.stderr.strip()[-200:]}"
        )
    key = made.stdout.strip().splitlines()[-1]
    subprocess.run(
        [*smmpanel, "users", "fund", "bench", "1000000"], env=env, check=True, capture_output=True
    )

    secs, conc = options.seconds, options.concurrency
    rates = _baselines(env, work, key, secs, conc)
    tool = "wrk" if shutil.which("wrk") else "python threads"
    for workers in options.workers:
        panel_port = free_port()
        panel = _start(
            [*smmpanel, "serve", "--port", str(panel_port), "--workers", str(workers)],
            {**env, "SMMPANEL_LOG_LEVEL": "info"},
            panel_port,
            processes=workers,
        )
        try:
            panel_url = f"http://127.0.0.1:{panel_port}/api/v2"
            if workers == options.workers[0]:
                _place_orders(panel_url, key, STATUS_ORDERS)
            for action in options.actions:
                batches_before = _batches(panel_port)
                rate, _, cpu = _measure(
                    panel_url,
                    key,
                    action,
                    secs,
                    conc,
                    work,
                    tag=f"w{workers}",
                    server=panel.pid,
                )
                rates.append((f"{action}, {workers} worker(s)", rate, cpu))
                if action == "add":
                    count, in_batches = (
                        a - b for a, b in zip(_batches(panel_port), batches_before, strict=True)
                    )
                    BATCHES.append(
                        f"add, {workers} worker(s): {count} batches, "
                        f"{in_batches / max(count, 1):.1f} orders each"
                    )
        finally:
            panel.terminate()
            panel.wait(10)
    backend = url.split(":", 1)[0]
    orders = subprocess.run(
        [*smmpanel, "orders", "list", "--limit", "1", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    placed = json.loads(orders)[0]["id"] if orders.strip() != "[]" else 0
    print(
        f"backend={backend} concurrency={options.concurrency} seconds={options.seconds} "
        f"load={tool} rate-limits={options.rate_limits} orders placed={placed}"
    )
    (_, h11, _), (_, httptools, _) = rates[:2]
    header = (
        f"{'scenario':<34}{'req/s':>10}{'vs bare h11':>13}{'vs bare httptools':>19}"
        f"{'server CPU us/req':>19}"
    )
    print(header + (f"{'wrk CPU us/req':>16}" if LOAD_CPU else ""))
    for n, (name, rate, cpu) in enumerate(rates):
        load = f"{LOAD_CPU[n]:>16.0f}" if n < len(LOAD_CPU) else ""
        print(
            f"{name:<34}{rate:>10.0f}{rate / h11:>12.2f}x{rate / httptools:>18.2f}x"
            f"{cpu:>19.0f}{load}"
        )
    for line in BATCHES:
        print(line)


# The bare route is served with each of uvicorn's HTTP/1.1 parsers: h11, the
# pure-Python one the figures were measured with (uvicorn's choice
# when httptools is not installed), and httptools, which the panel serves
# with (smmpanel/http_protocol.py).  Ratios to both are printed.
BASELINE_PARSERS = ("h11", "httptools")


def _baselines(
    env: dict[str, str], work: Path, key: str, secs: float, conc: int
) -> list[tuple[str, float, float]]:
    """The bare route's requests/s and server CPU us/req with each parser."""
    rows: list[tuple[str, float, float]] = []
    for parser in BASELINE_PARSERS:
        port = free_port()
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
        args = [*uvicorn, "--http", parser, "--app-dir", str(work), "baseline:app"]
        baseline = _start([*args, "--port", str(port)], env, port)
        try:
            url = f"http://127.0.0.1:{port}/api/v2"
            rate, _, cpu = _measure(
                url, key, "balance", secs, conc, work, tag="base", server=baseline.pid
            )
        finally:
            baseline.terminate()
            baseline.wait(10)
        rows.append((f"baseline: bare route, {parser}", rate, cpu))
    return rows


def _catalog(size: int) -> list[dict[str, object]]:
    """`size` services in 25 to a category, in the format of the `services`
    answer; the first costs 0.01 per 1000 (what `add` orders)."""
    entries: list[dict[str, object]] = []
    for n in range(1, size + 1):
        entries.append(
            {
                "service": n,
                "name": "Bench" if n == 1 else f"Followers {n} | fast start, 30 days refill",
                "type": "Default",
                "rate": "0.01" if n == 1 else f"{n % 97 + 0.5:.2f}",
                "min": "1" if n == 1 else "10",
                "max": "1000000",
                "dripfeed": n % 3 == 0,
                "refill": n % 2 == 0,
                "cancel": n % 5 == 0,
                "category": "Bench" if n == 1 else f"Category {n // 25}",
            }
        )
    return entries


def _place_orders(url: str, key: str, count: int) -> None:
    """Orders 1..`count` (for `status` and `status100`)."""
    with httpx.Client(timeout=30) as client:
        for n in range(count):
            body = {"key": key, "action": "add", "service": "1", "quantity": "10"}
            answer = client.post(url, data={**body, "link": f"https://example.com/setup-{n}"})
            if "order" not in answer.json():
                raise RuntimeError(answer.text)


def _rate_limits(mode: str) -> dict[str, str]:
    """The environment of the panel: limits off, or on with buckets no load here fills."""
    if mode == "off":
        return {"SMMPANEL_RATE_LIMITS": "off"}
    return {
        "SMMPANEL_RATE_LIMITS": "on",
        "SMMPANEL_REDIS_URL": "",
        "SMMPANEL_RATE_LIMIT_KEY": "1000000/second",
        "SMMPANEL_RATE_LIMIT_IP": "1000000/second",
    }


# The mean size of add's batches in each measurement ("Measure the batch sizes
# that arise"), from the panel's /metrics (all its processes).
BATCHES: list[str] = []


def _batches(port: int) -> tuple[int, int]:
    """How many batches the panel's group committer ran, and their orders."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith(f"smmpanel_add_batch_size_{part} "):
                found[part] = float(line.split()[1])
    return int(found["count"]), int(found["sum"])


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its descendants, from /proc
    (Linux; 0 elsewhere).  Per request it is far less disturbed than requests per
    second by other work on the machine."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    procs: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        procs[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total = {pid}, 0.0
    for _ in range(3):  # uvicorn's tree is at most a supervisor and its workers
        tree |= {child for child, (parent, _) in procs.items() if parent in tree}
    for member in tree:
        total += procs.get(member, (0, 0.0))[1]
    return total


# wrk's own CPU microseconds per request, one entry per measurement: on a
# machine where the load shares the cores with the server, it bounds what
# several server processes can reach (cores / (server CPU + load CPU)).
LOAD_CPU: list[float] = []


def _children_cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _measure(
    url: str,
    key: str,
    action: str,
    secs: float,
    conc: int,
    work: Path,
    *,
    tag: str,
    server: int,
) -> tuple[float, str, float]:
    """Requests per second of one action, the load tool, and the server's CPU
    microseconds per request: `balance`, `add` with a link unique to this run and
    request, `status` of order 1 or of orders 1-100 (placed before), or `services`."""
    fields = {"key": key, "action": action}
    if action == "status":
        fields["order"] = "1"
    elif action == "status100":
        fields.update(action="status", orders=",".join(map(str, range(1, STATUS_ORDERS + 1))))
    elif action == "add":
        fields.update(service="1", quantity="10", link=f"https://example.com/{tag}-{{n}}")
    cpu_before = _cpu_seconds(server)
    if shutil.which("wrk"):
        body = "&".join(f"{k}={quote(v, safe='{}')}" for k, v in fields.items())
        load_before = _children_cpu_seconds()
        rate, made = _wrk(url, body, secs, conc, work)
        LOAD_CPU.append((_children_cpu_seconds() - load_before) / max(made, 1) * 1e6)
        tool = "wrk"
    else:

        def make_body(n: int) -> dict[str, str]:
            return {k: v.replace("{n}", str(n)) for k, v in fields.items()}

        rate, made = _load(url, make_body, secs, conc)
        tool = "python threads"
    cpu = (_cpu_seconds(server) - cpu_before) / max(made, 1) * 1e6
    return rate, tool, cpu


if __name__ == "__main__":
    main()
