"""The API key never shows: not in repr, not in exceptions (GET included), not in logs."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import Any, cast

import pytest

from smmpanel.client import (
    ApiError,
    AsyncClient,
    Client,
    ProtocolError,
    SmmError,
    TransportError,
)

from .conftest import METHODS, MakeClient
from .fake_panel import KEY, FakePanel
from .panel_server import PanelServer, Received, Reply, Script
from .test_client_retries import closed_port_url


def echo(status: int, content_type: str = "text/html") -> Any:
    """A panel whose error page repeats the request, key included (they exist)."""

    def respond(request: Received) -> Reply:
        return Reply(f"<p>Bad request: {request.params}</p>", status, content_type)

    return respond


def assert_hidden(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    assert KEY not in text
    assert KEY not in repr(exc)
    for name in ("message", "snippet"):
        assert KEY not in str(getattr(exc, name, ""))


def test_repr_hides_the_key(panel: PanelServer) -> None:
    for method in METHODS:
        with Client(panel.url, KEY, method=method) as client:  # type: ignore[arg-type]
            assert KEY not in repr(client) and KEY not in str(client)
            assert repr(client) == f"Client(url='{panel.url}', method='{method}')"
    client_async = AsyncClient(panel.url, KEY, method="get")
    assert KEY not in repr(client_async)
    assert repr(client_async).startswith("AsyncClient(url=")
    asyncio.run(client_async.aclose())


def test_exceptions_hide_the_key(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel
) -> None:
    raised: list[SmmError] = []
    for method in METHODS:
        panel.responder = Script(
            {
                "services": echo(200),
                "balance": echo(502),
                "status": Reply({"status": "Pending"}, delay=0.6),
                "refill": lambda r: Reply({"error": f"Invalid API key {r.params['key']}"}),
                "cancel": Reply("", 302, headers={"Location": f"/login?key={KEY}"}),
            },
            fallback=fake,
        )
        client = make_client(kind, method, timeout=0.3, retries=0)
        for name, args, expected in [
            ("services", (), ProtocolError),
            ("balance", (), TransportError),
            ("status", (1,), TransportError),
            ("refill", (3,), ApiError),
            ("cancel", ([1],), ProtocolError),
        ]:
            with pytest.raises(expected) as info:
                getattr(client, name)(*args)
            raised.append(cast(SmmError, info.value))
            assert_hidden(info.value)
        unreachable = make_client(kind, method, url=closed_port_url(), retries=0)
        with pytest.raises(TransportError) as info:
            unreachable.balance()
        assert_hidden(info.value)
        raised.append(info.value)
    assert len(raised) == 18
    snippets = [e.snippet for e in raised if isinstance(e, ProtocolError) and e.snippet]
    assert snippets and all("'key': '***'" in s for s in snippets)
    api_errors = [e for e in raised if isinstance(e, ApiError)]
    assert {e.message for e in api_errors} == {"Invalid API key ***"}


def test_logs_hide_the_key(
    make_client: MakeClient, kind: str, panel: PanelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(kind, "get")
    client.balance()
    client.statuses([1, 2])
    panel.responder = Script({"balance": Reply("busy", 503, "text/plain")})
    with pytest.raises(TransportError):
        client.balance()
    text = caplog.text
    assert KEY not in text
    assert "key=***" in text  # httpx's own request line, redacted
    assert "retrying balance" in text
    assert panel.requests[0].query["key"] == KEY  # the key was sent all the same


def test_a_blank_key_or_bad_url_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        Client("https://panel.example/api/v2", "  ")
    with pytest.raises(ValueError, match="http"):
        Client("ftp://panel.example/api/v2", KEY)
    with pytest.raises(ValueError, match="method"):
        Client("https://panel.example/api/v2", KEY, method="put")  # type: ignore[arg-type]
