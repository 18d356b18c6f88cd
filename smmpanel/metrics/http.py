"""GET /metrics (Prometheus's text format) and GET /healthz, beside /api/v2.

/metrics tells how busy the panel is and how much money waits where, so it is
not public: with SMMPANEL_METRICS_TOKEN set it requires that token as a bearer
token; without one it answers only clients on loopback that came without a
proxy's header (a Prometheus on the same machine), and refuses everyone else
with a JSON 403, since behind a reverse proxy on the same machine every client
would otherwise look local.
"""

from __future__ import annotations

import hmac
import ipaddress

import anyio.to_thread
from anyio import CapacityLimiter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.metrics.collector import DatabaseCollector
from smmpanel.metrics.health import Health, check_health
from smmpanel.metrics.recorder import PanelMetrics

# Headers a reverse proxy adds: a request that has one did not come from the
# scraper on this machine, whatever address it came from.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")


def refusal(request: Request, token: str | None) -> Response | None:
    """Why this request may not read /metrics, as an answer; None if it may."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return JSONResponse(
            {"error": "a bearer token is required (Authorization: Bearer ...)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if _is_loopback(request) and not any(h in request.headers for h in PROXY_HEADERS):
        return None
    return JSONResponse(
        {"error": "/metrics answers loopback only; set SMMPANEL_METRICS_TOKEN to scrape it"},
        status_code=403,
    )


def _is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpsEndpoints:
    def __init__(self, db: Database, settings: Settings, metrics: PanelMetrics) -> None:
        self.db = db
        self.metrics = metrics
        self.stale_after = settings.worker_stale_seconds
        token = settings.metrics_token
        self.token = token.get_secret_value().strip() if token is not None else None
        metrics.registry.register(DatabaseCollector(db, stale_after=self.stale_after))
        # One scrape and one probe at a time per process, in threads of their own:
        # they never take the API's, and a slow scrape never holds up a probe.
        self.scrapes = CapacityLimiter(1)
        self.probes = CapacityLimiter(1)

    async def scrape(self, request: Request) -> Response:
        refused = refusal(request, self.token)
        if refused is not None:
            return refused
        body = await anyio.to_thread.run_sync(
            generate_latest, self.metrics.registry, limiter=self.scrapes
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def health(self, _request: Request) -> Response:
        health = await anyio.to_thread.run_sync(self._check, limiter=self.probes)
        return JSONResponse(health.body(), status_code=200 if health.ok else 503)

    def _check(self) -> Health:
        return check_health(self.db, stale_after=self.stale_after)


def ops_routes(db: Database, settings: Settings, metrics: PanelMetrics) -> list[Route]:
    endpoints = OpsEndpoints(db, settings, metrics)
    return [Route("/metrics", endpoints.scrape), Route("/healthz", endpoints.health)]
