"""The demo gateway alone (no database): its payment page is the panel's own,
and only a body signed with its secret is an event."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from smmpanel.payments.gateway import DepositRef, EventKind, WebhookRefused
from smmpanel.payments.gateways.demo import DemoGateway, signature, signed_webhook

SECRET = "a-demo-secret"
CONFIG = {"secret": SECRET}


def ref(return_url: str = "https://panel.example/funds/deposits/7") -> DepositRef:
    return DepositRef(
        id=7,
        amount=Decimal("12.50"),
        currency="USD",
        reference="D-000007",
        external_id=None,
        description="Balance top-up",
        return_url=return_url,
        webhook_url="https://panel.example/payments/webhook/demo",
    )


def test_the_payment_page_is_the_panels_own() -> None:
    start = DemoGateway().create_payment(ref(), CONFIG)
    assert start.redirect_url == "https://panel.example/funds/demo-pay/7"
    assert start.external_id == "demo-7"
    odd = DemoGateway().create_payment(ref("https://elsewhere.example/back"), CONFIG)
    assert odd.redirect_url == "/funds/demo-pay/7"


def test_a_signed_webhook_is_one_event() -> None:
    webhook = signed_webhook(
        deposit_id=7, event="paid", amount=Decimal("12.50"), currency="USD", secret=SECRET
    )
    # Header names in any case, as proxies pass them.
    headers = {k.title(): v for k, v in webhook.headers.items()}
    (event,) = DemoGateway().verify_webhook(webhook.body, headers, CONFIG)
    assert (event.kind, event.deposit_id, event.amount, event.currency) == (
        EventKind.PAID,
        7,
        Decimal("12.50"),
        "USD",
    )
    assert event.event_id == "demo-7-paid"  # Pay twice: the same event twice
    assert event.payload == webhook.body.decode()
    failed = signed_webhook(
        deposit_id=7, event="failed", amount=Decimal(1), currency="usd", secret=SECRET
    )
    (event,) = DemoGateway().verify_webhook(failed.body, failed.headers, CONFIG)
    assert (event.kind, event.currency) == (EventKind.FAILED, "USD")
    with pytest.raises(ValueError):
        signed_webhook(deposit_id=7, event="refund", amount=Decimal(1), currency="USD", secret="s")


def signed(data: object) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(data).encode()
    return body, {"x-demo-signature": signature(body, SECRET)}


@pytest.mark.parametrize(
    "data",
    [
        {"id": "e", "deposit_id": True, "event": "paid", "amount": "1", "currency": "USD"},
        {"id": "e", "deposit_id": 0, "event": "paid", "amount": "1", "currency": "USD"},
        {"id": "e", "deposit_id": 7, "event": "refund", "amount": "1", "currency": "USD"},
        {"id": "e", "deposit_id": 7, "event": "paid", "amount": "-1", "currency": "USD"},
        {"id": "e", "deposit_id": 7, "event": "paid", "amount": "NaN", "currency": "USD"},
        {"id": "e", "deposit_id": 7, "event": "paid", "amount": 1, "currency": "USD"},
        {"id": "", "deposit_id": 7, "event": "paid", "amount": "1", "currency": "USD"},
        {"id": "e", "deposit_id": 7, "event": "paid", "amount": "1"},
        [7, "paid"],
    ],
)
def test_a_signed_body_that_is_not_an_event_is_refused(data: object) -> None:
    body, headers = signed(data)
    with pytest.raises(WebhookRefused):
        DemoGateway().verify_webhook(body, headers, CONFIG)


def test_without_the_secret_nothing_is_genuine() -> None:
    webhook = signed_webhook(
        deposit_id=7, event="paid", amount=Decimal(1), currency="USD", secret=SECRET
    )
    with pytest.raises(WebhookRefused):
        DemoGateway().verify_webhook(webhook.body, webhook.headers, {})
    with pytest.raises(WebhookRefused):
        DemoGateway().verify_webhook(webhook.body, webhook.headers, {"secret": "other"})
    with pytest.raises(WebhookRefused):
        DemoGateway().verify_webhook(webhook.body, {}, CONFIG)
    assert DemoGateway().fetch_payment(ref(), CONFIG) is None
