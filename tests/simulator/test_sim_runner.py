"""The runner (`serve`, `build_config`) and the test helper (`running_simulator`)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from smmpanel.simulator import SimulatorConfig, build_config, runner, serve
from smmpanel.simulator.faults import FaultRule
from smmpanel.simulator.testing import RunningSimulator, running_simulator


def test_build_config_generates_a_key_and_parses_faults() -> None:
    config = build_config(
        faults=["partial:p=0.5", FaultRule("slow", seconds=1)], speed=2, balance="50"
    )
    assert len(config.key) >= 40
    assert build_config().key != config.key
    assert config.faults == [FaultRule("partial", probability=0.5), FaultRule("slow", seconds=1)]
    assert (config.speed, config.balance) == (2, Decimal("50"))
    assert build_config("mine").key == "mine"


def test_serve_prints_the_key_and_runs_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run(app: Starlette, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr(runner.uvicorn, "run", fake_run)
    lines: list[str] = []
    serve(port=9123, speed=3, faults=["dialect"], echo=lines.append)
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 9123
    key = calls[0]["app"].state.sim.config.key
    assert lines[0] == "Provider simulator: http://127.0.0.1:9123/api/v2"
    assert lines[1] == f"API key: {key}"
    assert any("dialect" in line for line in lines)
    serve(key="given", echo=lines.append)
    assert calls[1]["app"].state.sim.config.key == "given"


def test_running_simulator_with_config_and_clean_shutdown() -> None:
    config = SimulatorConfig(key="k1", manual_clock=True, balance=Decimal(7))
    with running_simulator(config) as sim:
        assert isinstance(sim, RunningSimulator)
        base_url, key, control = sim
        assert base_url.startswith("http://127.0.0.1:") and key == "k1"
        assert sim.api_url == f"{base_url}/api/v2"
        answer = httpx.post(sim.api_url, data={"key": key, "action": "balance"}).json()
        assert answer == {"balance": "7.00000", "currency": "USD"}
        assert control.state is sim.state
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/_sim/health", timeout=1)


def test_running_simulator_options_and_reset() -> None:
    with running_simulator(speed=0, faults=["refuse:count=1"]) as sim:
        assert sim.state.config.speed == 0 and len(sim.key) >= 40
        assert sim.control.faults()[0]["kind"] == "refuse"
        state = sim.control.reset(balance="3")
        assert sim.state is state and sim.control.faults() == []
        assert sim.control.balance() == "3.00000"
        sim.control.reset()
        assert sim.control.balance() == "3.00000"
        with pytest.raises(ValueError):
            sim.control.reset(SimulatorConfig(key="other"))
    with pytest.raises(TypeError), running_simulator(SimulatorConfig(), speed=1):
        pass


def test_shutdown_releases_held_answers() -> None:
    errors: list[BaseException] = []
    with running_simulator(manual_clock=True, faults=["timeout:seconds=60"]) as sim:

        def call() -> None:
            try:
                httpx.post(sim.api_url, data={"key": sim.key, "action": "balance"}, timeout=30)
            except httpx.HTTPError as exc:
                errors.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(0.2)
        started = time.perf_counter()
    assert time.perf_counter() - started < 5
    thread.join(5)
    assert not thread.is_alive()


def test_two_simulators_side_by_side() -> None:
    with running_simulator(key="a") as one, running_simulator(key="b") as two:
        assert one.base_url != two.base_url
        for sim in (one, two):
            answer = httpx.post(sim.api_url, data={"key": sim.key, "action": "balance"})
            assert answer.json()["balance"] == "1000.00000"
