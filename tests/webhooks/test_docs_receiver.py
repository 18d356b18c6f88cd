"""The receiver documented in docs/webhooks.md accepts real deliveries and
refuses forged ones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from smmpanel.db import Database
from smmpanel.jobs.worker import Worker
from smmpanel.orders.service import place_order, update_order
from smmpanel.orders.webhooks import WEBHOOK_JOB, deliver_webhook, set_webhook
from smmpanel.server import serve_in_thread
from tests.factories import make_customer, make_service

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def _documented_receiver() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)
    [receiver] = [b for b in blocks if "Starlette(" in b]
    return receiver


def _documented_check() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)
    [check] = [b for b in blocks if "def verify_signature" in b]
    return check


def test_documented_receiver_accepts_deliveries(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(db)
    # The secret is set first, then the URL is pointed at the running receiver.
    secret = set_webhook(db, username=customer.username, url="https://placeholder.example/")
    assert secret is not None
    monkeypatch.setenv("SMM_WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {}
    exec(compile(_documented_receiver(), str(DOC), "exec"), namespace)
    with serve_in_thread(namespace["app"]) as url:
        set_webhook(db, username=customer.username, url=f"{url}/smm-hook")
        placed = place_order(
            db,
            account_id=customer.id,
            service_id=make_service(db),
            params={"link": "https://x.com/a", "quantity": "100"},
        )
        update_order(db, order_id=placed.order_id, status="In progress", start_count=7)
        worker = Worker(db, {WEBHOOK_JOB: deliver_webhook}, name="docs")
        assert worker.run_once() == 1
        assert namespace["seen"] == {f"order-{placed.order_id}-2"}

        forged = httpx.post(
            f"{url}/smm-hook",
            content=b'{"order":1,"status":"Completed"}',
            headers={"X-Smmpanel-Signature": "sha256=" + "0" * 64},
        )
        assert (forged.status_code, forged.text) == (401, "bad signature")


def test_documented_check_matches_the_library() -> None:
    from smmpanel.orders.webhooks import sign, verify_signature

    namespace: dict[str, Any] = {}
    exec(compile(_documented_check(), str(DOC), "exec"), namespace)
    documented = namespace["verify_signature"]
    body = b'{"id":"order-9-2","status":"Partial"}'
    header = sign("k", body)
    for args in [("k", body, header), ("other", body, header), ("k", body + b"x", header)]:
        assert documented(*args) == verify_signature(*args)
    assert documented("k", body, header) is True
