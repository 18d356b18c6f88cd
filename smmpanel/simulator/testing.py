"""Run the simulator in a background thread for tests: `running_simulator()`.

with running_simulator(manual_clock=True, speed=10) as sim:
    httpx.post(sim.api_url, data={"key": sim.key, "action": "balance"})
    sim.control.advance(20)
    assert sim.control.orders(link="https://x")[0]["status"] == "Completed"
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import httpx
import uvicorn
from starlette.applications import Starlette

from smmpanel.http_protocol import HTTP_PROTOCOL
from smmpanel.simulator.app import create_app
from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.faults import FaultRule, parse_fault_spec
from smmpanel.simulator.state import SimState
from smmpanel.tokens import new_token


class SimControl:
    """The `/_sim/...` endpoints as methods (HTTP), plus `state` for in-process access."""

    def __init__(self, base_url: str, key: str, app: Starlette) -> None:
        self.key = key
        self.app = app
        self.client = httpx.Client(base_url=base_url, timeout=30.0)

    @property
    def state(self) -> SimState:
        """The live state (in-process access, no HTTP)."""
        state: SimState = self.app.state.sim
        return state

    def reset(self, config: SimulatorConfig | None = None, **options: Any) -> SimState:
        """Start afresh in-process with a new configuration (same key, same server).

        `options` are SimulatorConfig fields; with neither, the current configuration."""
        if config is None and not options:
            config = self.state.config
        elif config is None:
            options.setdefault("key", self.key)
            config = _config(None, options)
        if config.key != self.key:
            raise ValueError("the key cannot change while the server runs")
        state = SimState(config)
        self.app.state.sim = state
        return state

    def _get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        response = self.client.get(f"/_sim/{path}", params={"key": self.key, **query})
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(f"/_sim/{path}", json={"key": self.key, **body})
        response.raise_for_status()
        return response.json()

    def orders(self, **filters: Any) -> list[dict[str, Any]]:
        """Accepted orders; filters: link, service, status, request_id, parent, kind."""
        return list(self._get("orders", **filters)["orders"])

    def order(self, order_id: int) -> dict[str, Any]:
        with self.state.lock:
            link = self.state.orders[order_id].link
        for record in self.orders(link=link) if link else self.orders():
            if record["id"] == order_id:
                return record
        raise KeyError(order_id)

    def links(self) -> dict[str, int]:
        return dict(self._get("links")["links"])

    def refills(self) -> list[dict[str, Any]]:
        return list(self._get("refills")["refills"])

    def cancels(self) -> list[dict[str, Any]]:
        return list(self._get("cancels")["cancels"])

    def faults(self) -> list[dict[str, Any]]:
        return list(self._get("faults")["faults"])

    def add_fault(self, fault: str | dict[str, Any] | FaultRule, **options: Any) -> int:
        """Add a rule: a spec string (`"partial:p=0.5"`), a dict, a FaultRule, or a kind
        name plus keyword options (`add_fault("timeout", count=1, seconds=5)`)."""
        item: Any
        if isinstance(fault, FaultRule):
            item = fault.to_json()
        elif isinstance(fault, str) and options:
            item = {"kind": fault, **options}
        else:
            item = fault
        return int(self._post("faults", {"add": [item]})["added"][0])

    def clear_faults(self, kind: str | None = None) -> int:
        return int(self._post("faults", {"clear": kind or True})["removed"])

    def advance(self, seconds: float) -> float:
        return float(self._post("advance", {"seconds": seconds})["now"])

    def set_status(self, **fields: Any) -> dict[str, Any]:
        """`order=ID, status=..., remains=..., start_count=...` or `refill=ID|cancel=ID,
        status=...`; returns the record."""
        return dict(self._post("set_status", fields))

    def set_balance(self, balance: Decimal | str | float) -> str:
        return str(self._post("balance", {"balance": str(balance)})["balance"])

    def balance(self) -> str:
        return str(self._get("balance")["balance"])

    def catalog(self, **changes: Any) -> list[dict[str, Any]]:
        """`remove=ID`, `reset=True`, or `service=ID, rate=..., min=..., ...`."""
        body = {k: str(v) if isinstance(v, Decimal) else v for k, v in changes.items()}
        return list(self._post("catalog", body)["services"])

    def stats(self) -> dict[str, Any]:
        return dict(self._get("stats"))

    def reset_stats(self) -> dict[str, Any]:
        return dict(self._post("stats/reset", {}))

    def close(self) -> None:
        self.client.close()


class RunningSimulator(NamedTuple):
    base_url: str  # http://127.0.0.1:PORT
    key: str
    control: SimControl

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def state(self) -> SimState:
        return self.control.state


def _config(config: SimulatorConfig | None, options: dict[str, Any]) -> SimulatorConfig:
    if config is not None and options:
        raise TypeError("give a SimulatorConfig or keyword options, not both")
    if config is not None:
        return config
    faults = options.pop("faults", [])
    options.setdefault("key", new_token(32))
    rules = [parse_fault_spec(f) if isinstance(f, str) else f for f in faults]
    return SimulatorConfig(faults=rules, **options)


@contextlib.contextmanager
def running_simulator(
    config: SimulatorConfig | None = None, *, startup_timeout: float = 10.0, **options: Any
) -> Iterator[RunningSimulator]:
    """Serve a simulator on a free 127.0.0.1 port in a background thread.

    `options` are SimulatorConfig fields (`faults` may be spec strings); the key defaults
    to a random token. Yields `(base_url, key, control)`; stops the server on exit, releasing
    answers held by timeout/slow faults at once.
    """
    cfg = _config(config, dict(options))
    app = create_app(cfg)
    # proto=IPPROTO_TCP: asyncio only sets TCP_NODELAY on sockets that say they are TCP;
    # without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=HTTP_PROTOCOL,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
            loop="asyncio",
        )
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"simulator-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    control = SimControl(base_url, cfg.key, app)
    try:
        _wait_until_up(base_url, server, thread, failure, startup_timeout)
        yield RunningSimulator(base_url, cfg.key, control)
    finally:
        control.close()
        app.state.closing.set()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def _wait_until_up(
    base_url: str,
    server: uvicorn.Server,
    thread: threading.Thread,
    failure: list[BaseException],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if failure or not thread.is_alive():
            cause = failure[0] if failure else None
            raise RuntimeError("the simulator failed to start") from cause
        if server.started:
            try:
                if httpx.get(f"{base_url}/_sim/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.01)
    raise RuntimeError(f"the simulator did not answer within {timeout} s")
