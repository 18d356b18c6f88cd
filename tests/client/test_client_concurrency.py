"""The async client makes the calls of a many-id question concurrently, within its limit."""

from __future__ import annotations

import threading

import pytest

from smmpanel.client import ApiError, AsyncClient

from .conftest import MakeClient
from .fake_panel import FakePanel
from .panel_server import PanelServer, Received, Reply


class InFlight:
    """A responder that counts the calls being answered at the same time."""

    def __init__(self, fake: FakePanel, rendezvous: int) -> None:
        self.fake = fake
        self.barrier = threading.Barrier(rendezvous, timeout=5)
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def __call__(self, request: Received) -> Reply:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            # Every call waits for the others: a client asking one call at a time
            # would break the barrier instead of passing it.
            self.barrier.wait()
            return self.fake(request)
        except threading.BrokenBarrierError:
            return Reply({"error": "calls were not concurrent"})
        finally:
            with self.lock:
                self.now -= 1


def test_batches_are_asked_at_once(
    make_client: MakeClient, panel: PanelServer, fake: FakePanel
) -> None:
    responder = InFlight(fake, rendezvous=3)
    panel.responder = responder
    client = make_client("async")
    ids = list(range(250, 0, -1))
    results = client.statuses(ids)
    assert responder.peak == 3
    assert [r.order_id for r in results] == ids
    assert sum(r.ok for r in results) == sum(1 for i in ids if i in fake.orders) > 0


def test_concurrency_is_bounded(
    make_client: MakeClient, panel: PanelServer, fake: FakePanel
) -> None:
    responder = InFlight(fake, rendezvous=2)
    panel.responder = responder
    client = make_client("async", concurrency=2)
    results = client.statuses(range(1, 401))  # 4 calls, two at a time
    assert responder.peak == 2
    assert len(results) == 400 and len(panel.calls("status")) == 4


def test_the_first_failure_to_arrive_is_raised_and_the_rest_abandoned(
    make_client: MakeClient, panel: PanelServer, fake: FakePanel
) -> None:
    def respond(request: Received) -> Reply:
        if 150 in request.ids:
            return Reply({"error": "Too many IDs (max 100)"}, delay=2)  # abandoned
        if 250 in request.ids:
            return Reply({"error": "Invalid API key"})
        return fake(request)

    panel.responder = respond
    with pytest.raises(ApiError) as info:
        make_client("async").statuses(range(1, 301))
    assert info.value.code == "invalid_key"


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        AsyncClient("http://127.0.0.1:9/api/v2", "k", concurrency=0)
