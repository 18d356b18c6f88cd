"""Payment gateways' webhooks at /payments/webhook/CODE are counted by outcome:
a refused one (a wrong signing secret loses payments) shows on /metrics."""

from __future__ import annotations

import httpx

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.server import serve_in_thread, site_app
from tests.metrics.scrape import scrape
from tests.web.conftest import web_settings


def test_webhooks_are_counted_by_outcome(sqlite_db: Database) -> None:
    configure_gateway(sqlite_db, code="demo", values={"secret": "s" * 24}, actor=Actor.system())
    enable_gateway(sqlite_db, code="demo", actor=Actor.system())
    app = site_app(sqlite_db, web_settings(demo_payments=True))
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as http:
        for _ in range(3):  # not signed with the secret
            assert http.post("/payments/webhook/demo", content=b"{}").status_code == 400
        for code in ("nope", "other_unknown"):
            assert http.post(f"/payments/webhook/{code}", content=b"{}").status_code == 404
        assert http.post("/payments/webhook/demo", content=b"x" * 300_000).status_code == 413
        # The API's calls go to the same metrics, in the same process.
        http.post("/api/v2", data={"key": "wrong", "action": "balance"})
        samples = scrape(url)
    count = "smmpanel_payment_webhooks_total"
    assert samples.value(count, gateway="demo", outcome="refused") == 3
    # Gateways that are not installed share one label value.
    assert samples.value(count, gateway="unknown", outcome="no_gateway") == 2
    assert samples.value(count, gateway="demo", outcome="too_large") == 1
    api = "smmpanel_api_requests_total"
    assert samples.value(api, action="balance", outcome="error") == 1
