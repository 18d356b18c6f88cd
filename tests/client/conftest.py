"""Fixtures: a real HTTP panel per test, and clients of it (sync, async, three methods)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smmpanel.client import AsyncClient, Client
from smmpanel.client._base import Method

from .fake_panel import KEY, FakePanel
from .panel_server import PanelServer

KINDS = ("sync", "async")
METHODS = ("post", "json", "get")
FAST = {"retries": 2, "backoff": 0.01, "timeout": 5.0}


class AsyncAdapter:
    """Drives an AsyncClient on one event loop through a synchronous facade.

    The same test body then covers both clients; the loop lives as long as the
    client, since pooled connections belong to the loop that opened them.
    """

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *args, **kwargs: self.loop.run_until_complete(attr(*args, **kwargs))
        return attr

    def __repr__(self) -> str:
        return repr(self.client)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


MakeClient = Callable[..., Any]


@pytest.fixture
def fake() -> FakePanel:
    return FakePanel()


@pytest.fixture
def panel(fake: FakePanel) -> Iterator[PanelServer]:
    """A panel server answering with ``fake``; set ``panel.responder`` to script it."""
    server = PanelServer(fake).start()
    yield server
    server.stop()
    assert server.failures == [], "the test responder raised"


@pytest.fixture
def make_client(panel: PanelServer) -> Iterator[MakeClient]:
    """``make_client(kind="sync", method="post", url=..., key=..., **options)``; closed after."""
    made: list[Any] = []

    def make(kind: str = "sync", method: Method = "post", **options: Any) -> Any:
        url = options.pop("url", panel.url)
        key = options.pop("key", KEY)
        settings = {**FAST, **options}
        if kind == "sync":
            client: Any = Client(url, key, method=method, **settings)
        else:
            client = AsyncAdapter(AsyncClient(url, key, method=method, **settings))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=[(k, m) for k in KINDS for m in METHODS], ids=lambda p: f"{p[0]}-{p[1]}")
def api(request: pytest.FixtureRequest, make_client: MakeClient) -> Any:
    """A client of ``panel``: every test using it runs for both clients and all three methods."""
    kind, method = request.param
    return make_client(kind, method)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
