"""Retries only where they are safe; add is never sent twice unless it carries a request_id."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from smmpanel.client import ApiError, OrderMayExistError, OrderStatus, TransportError

from .conftest import MakeClient
from .fake_panel import FakePanel
from .panel_server import PanelServer, Reply, Script

SLOW = 0.6  # the server's delay, twice the client's timeout
TIMEOUT = 0.3


def closed_port_url() -> str:
    """An address where nothing listens: connecting fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v2"


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]


def test_add_without_request_id_is_not_retried_after_a_timeout(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel
) -> None:
    fake.add_delays = [SLOW]
    client = make_client(kind, timeout=TIMEOUT)
    with pytest.raises(OrderMayExistError) as info:
        client.add(1, "https://instagram.com/p/abc", 100)
    message = str(info.value)
    assert "may or may not have been created" in message
    assert "ReadTimeout" in message
    assert isinstance(info.value, TransportError)
    assert len(panel.calls("add")) == 1
    assert fake.created == 1  # the panel did create it: hence the warning


def test_add_with_request_id_is_retried_and_creates_one_order(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel
) -> None:
    fake.add_delays = [SLOW]
    client = make_client(kind, timeout=TIMEOUT)
    placed = client.add(1, "https://instagram.com/p/abc", 100, request_id="batch7-line42")
    adds = panel.calls("add")
    assert len(adds) == 2
    assert [a.params["request_id"] for a in adds] == ["batch7-line42"] * 2
    assert [a.headers["idempotency-key"] for a in adds] == ["batch7-line42"] * 2
    assert fake.created == 1
    assert placed.order_id == fake.by_request_id["batch7-line42"] == 1001


def test_add_without_request_id_is_not_retried_on_http_502(
    make_client: MakeClient, kind: str, panel: PanelServer
) -> None:
    panel.responder = Script({"add": Reply("<h1>502</h1>", 502, "text/html")})
    client = make_client(kind)
    with pytest.raises(OrderMayExistError) as info:
        client.add(1, "https://x", 100)
    assert info.value.status_code == 502
    assert len(panel.calls("add")) == 1


def test_add_gets_a_definite_answer_on_logical_errors(
    make_client: MakeClient, kind: str, panel: PanelServer
) -> None:
    client = make_client(kind)
    with pytest.raises(ApiError) as info:
        client.add(1, "https://x", 10000, request_id="r1", runs=100)
    assert info.value.code == "not_enough_funds"
    assert len(panel.calls("add")) == 1  # never retried


def test_reads_are_retried_on_5xx_and_429(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel
) -> None:
    panel.responder = Script(
        {
            "balance": [
                Reply({"error": "Too many requests"}, 429, headers={"Retry-After": "0"}),
                Reply("Service Unavailable", 503, "text/plain"),
                Reply({"balance": "5.00000", "currency": "USD"}),
            ],
        },
        fallback=fake,
    )
    client = make_client(kind)
    assert str(client.balance().balance) == "5.00000"
    assert len(panel.calls("balance")) == 3


def test_reads_are_retried_after_a_timeout(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel
) -> None:
    panel.responder = Script(
        {"status": [Reply({"status": "Pending"}, delay=SLOW), Reply({"status": "Completed"})]},
        fallback=fake,
    )
    client = make_client(kind, timeout=TIMEOUT)
    assert client.status(1).status is OrderStatus.COMPLETED
    assert len(panel.calls("status")) == 2


def test_rate_limit_that_persists(make_client: MakeClient, kind: str, panel: PanelServer) -> None:
    panel.responder = Script({"balance": Reply({"error": "Too many requests"}, 429)})
    client = make_client(kind, retries=1)
    with pytest.raises(TransportError) as info:
        client.balance()
    assert info.value.status_code == 429
    assert "rate limited" in str(info.value)
    assert len(panel.calls("balance")) == 2


def test_logical_errors_are_never_retried(
    make_client: MakeClient, kind: str, panel: PanelServer
) -> None:
    client = make_client(kind)
    with pytest.raises(ApiError):
        client.status(999999)
    assert len(panel.calls("status")) == 1


@pytest.mark.parametrize("action", ["refill", "cancel"])
def test_refill_and_cancel_are_not_retried_after_a_read_timeout(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel, action: str
) -> None:
    panel.responder = Script({action: Reply([], delay=SLOW)}, fallback=fake)
    client = make_client(kind, timeout=TIMEOUT)
    with pytest.raises(TransportError) as info:
        client.refills([3]) if action == "refill" else client.cancel([3])
    assert not isinstance(info.value, OrderMayExistError)
    assert "ReadTimeout" in str(info.value)
    assert len(panel.calls(action)) == 1


@pytest.mark.parametrize("call", ["refills", "cancel", "add", "balance"])
def test_connect_errors_are_retried_even_for_creations(
    make_client: MakeClient, kind: str, caplog: pytest.LogCaptureFixture, call: str
) -> None:
    caplog.set_level(logging.INFO, logger="smmpanel.client")
    client = make_client(kind, url=closed_port_url(), retries=2)
    args: dict[str, tuple[Any, ...]] = {
        "refills": ([1],),
        "cancel": ([1],),
        "add": (1, "https://x", 100),
        "balance": (),
    }
    with pytest.raises(TransportError) as info:
        getattr(client, call)(*args[call])
    assert not isinstance(info.value, OrderMayExistError)  # nothing was sent
    assert "ConnectError" in str(info.value)
    assert "after 3 tries" in str(info.value)
    assert len(retry_logs(caplog)) == 2


def test_retries_zero_means_one_try(make_client: MakeClient, kind: str, panel: PanelServer) -> None:
    panel.responder = Script({"services": Reply("", 500, "text/plain")})
    client = make_client(kind, retries=0)
    with pytest.raises(TransportError) as info:
        client.services()
    assert info.value.status_code == 500
    assert len(panel.calls("services")) == 1


def test_backoff_grows_exponentially(make_client: MakeClient, panel: PanelServer) -> None:
    panel.responder = Script({"balance": Reply("", 503, "text/plain")})
    client = make_client("sync", retries=3, backoff=0.04)
    started = time.monotonic()
    with pytest.raises(TransportError):
        client.balance()
    elapsed = time.monotonic() - started
    # Waits of 0.04, 0.08 and 0.16 s, each at least half of it (jitter): >= 0.14 s.
    assert 0.14 <= elapsed < 2.0
    assert len(panel.calls("balance")) == 4
