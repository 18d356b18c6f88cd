"""Who may read /metrics: the holder of SMMPANEL_METRICS_TOKEN when one is set;
else only a client on loopback that came without a proxy's header."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import SecretStr

from smmpanel.api_v2.app import create_app
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.server import serve_in_thread

TOKEN = "s3cret-metrics-token-0123456789"


def test_without_a_token_loopback_only(sqlite_db: Database) -> None:
    app = create_app(sqlite_db, settings=Settings(rate_limits=False))
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/metrics").status_code == 200
        for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
            refused = http.get("/metrics", headers={header: "203.0.113.7"})
            assert refused.status_code == 403, header
            assert refused.json() == {
                "error": "/metrics answers loopback only; set SMMPANEL_METRICS_TOKEN to scrape it"
            }
        assert http.post("/metrics").status_code == 405
    # A client from another address (as the ASGI server would report it).
    far = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.4", 40000)),
        base_url="http://panel.example",
    )
    refused = asyncio.run(_get(far, "/metrics"))
    assert refused.status_code == 403


def test_with_a_token_the_token_alone(sqlite_db: Database) -> None:
    settings = Settings(rate_limits=False, metrics_token=SecretStr(TOKEN))
    app = create_app(sqlite_db, settings=settings)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            refused = http.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"] == "Bearer"
            assert refused.json()["error"].startswith("a bearer token is required")
        taken = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert taken.status_code == 200
        assert "smmpanel_orders" in taken.text
        # Behind a proxy, with the token: the proxy's header does not matter.
        proxied = {"Authorization": f"bearer {TOKEN}", "X-Forwarded-For": "203.0.113.7"}
        assert http.get("/metrics", headers=proxied).status_code == 200
    far = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.4", 40000)),
        base_url="http://panel.example",
    )
    answer = asyncio.run(_get(far, "/metrics", Authorization=f"Bearer {TOKEN}"))
    assert answer.status_code == 200


async def _get(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    async with client:
        return await client.get(path, headers=headers)
