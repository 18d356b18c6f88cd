"""Fixtures: one simulator server per test session, a fresh state for every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from smmpanel.simulator.state import SimState
from smmpanel.simulator.testing import RunningSimulator, running_simulator


class Api:
    """A tiny API v2 client for tests (form-urlencoded POST by default)."""

    def __init__(self, sim: RunningSimulator) -> None:
        self.sim = sim
        self.client = httpx.Client(timeout=10.0)

    def raw(self, action: str, *, how: str = "form", **params: Any) -> httpx.Response:
        data = {"key": self.sim.key, "action": action, **params}
        data = {k: str(v) for k, v in data.items() if v is not None}
        if how == "get":
            return self.client.get(self.sim.api_url, params=data)
        if how == "json":
            return self.client.post(self.sim.api_url, json=data)
        return self.client.post(self.sim.api_url, data=data)

    def __call__(self, action: str, *, how: str = "form", **params: Any) -> Any:
        response = self.raw(action, how=how, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    def add(self, service: int | str, **params: Any) -> Any:
        return self("add", service=service, **params)

    def order(self, service: int = 1, link: str = "https://ig.com/p/a", **params: Any) -> int:
        params.setdefault("quantity", 1000)
        answer = self.add(service, link=link, **params)
        assert set(answer) == {"order"}, answer
        return int(answer["order"])


@pytest.fixture(scope="session")
def server() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as sim:
        yield sim


@pytest.fixture
def fresh(server: RunningSimulator) -> Callable[..., SimState]:
    """Reset the shared server's state with the given SimulatorConfig options."""

    def reset(**options: Any) -> SimState:
        options.setdefault("manual_clock", True)
        return server.control.reset(**options)

    return reset


@pytest.fixture
def sim(server: RunningSimulator, fresh: Callable[..., SimState]) -> RunningSimulator:
    """The shared server with a fresh state: manual clock, 10 s per stage, balance 1000."""
    fresh()
    return server


@pytest.fixture(scope="session")
def _api(server: RunningSimulator) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.client.close()


@pytest.fixture
def api(sim: RunningSimulator, _api: Api) -> Api:
    """An API v2 client of the shared server, whose state is fresh."""
    return _api
