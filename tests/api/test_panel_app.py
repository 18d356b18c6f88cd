"""PanelApp hands /api/v2 to its endpoint before Starlette's middleware and
router (api_v2/app.py), and keeps what they gave: every other path, and the
API under a proxy's root_path, go the usual way; an error that escapes the
endpoint is still a JSON 500, and still raised for the server to log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from smmpanel.accounts.service import create_account
from smmpanel.api_v2.app import PanelApp, create_app
from smmpanel.config import Settings
from smmpanel.db import Database


def _app_recording(db: Database) -> tuple[PanelApp, list[str]]:
    """The panel's app, and the paths its middleware stack was called for."""
    app = create_app(db, settings=Settings(rate_limits=False))
    assert isinstance(app, PanelApp)
    seen: list[str] = []
    stack = app.build_middleware_stack()

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await stack(scope, receive, send)

    app.middleware_stack = recording
    return app, seen


def _post(app: Any, path: str, data: dict[str, str], **transport: Any) -> httpx.Response:
    async def call() -> httpx.Response:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, **transport), base_url="http://panel.test"
        )
        async with client:
            return await client.post(path, data=data)

    return asyncio.run(call())


def test_the_api_skips_the_router_and_the_rest_does_not(sqlite_db: Database) -> None:
    key = create_account(sqlite_db, username="alice").api_key
    app, seen = _app_recording(sqlite_db)
    for path in ("/api/v2", "/api/v2/"):
        answer = _post(app, path, {"key": key, "action": "balance"})
        assert answer.status_code == 200
        assert answer.json() == {"balance": "0.00000", "currency": "USD"}
    assert seen == []
    wrong = _post(app, "/api/v3", {"key": key, "action": "balance"})
    assert (wrong.status_code, wrong.json()) == (404, {"error": "Not found"})
    assert seen == ["/api/v3"]


def test_under_a_root_path_the_router_answers(sqlite_db: Database) -> None:
    key = create_account(sqlite_db, username="alice").api_key
    app, seen = _app_recording(sqlite_db)
    answer = _post(app, "/panel/api/v2", {"key": key, "action": "balance"}, root_path="/panel")
    assert answer.json() == {"balance": "0.00000", "currency": "USD"}
    assert seen == ["/panel/api/v2"]


def test_an_error_that_escapes_the_endpoint_is_a_json_500(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = _app_recording(sqlite_db)

    async def broken(_request: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.api_endpoint, "respond", broken)
    answer = _post(app, "/api/v2", {"action": "balance"}, raise_app_exceptions=False)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"error": "Internal server error"}
    with pytest.raises(RuntimeError, match="a bug"):  # for the server's log
        _post(app, "/api/v2", {"action": "balance"})


def test_a_middleware_added_sees_the_api_calls(sqlite_db: Database) -> None:
    key = create_account(sqlite_db, username="alice").api_key
    app = create_app(sqlite_db, settings=Settings(rate_limits=False))
    seen: list[str] = []

    class Recording:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["path"])
            await self.app(scope, receive, send)

    app.add_middleware(Recording)
    answer = _post(app, "/api/v2", {"key": key, "action": "balance"})
    assert answer.json() == {"balance": "0.00000", "currency": "USD"}
    assert seen == ["/api/v2"]
