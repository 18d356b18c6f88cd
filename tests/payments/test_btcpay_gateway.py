"""The BTCPay Server gateway against the fake BTCPay Server, without the panel:
invoices created as Greenfield takes them, webhook signatures, and how each
invoice state comes out as an event."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from smmpanel.payments.gateway import (
    DepositRef,
    EventKind,
    GatewayEvent,
    GatewayUnavailable,
    WebhookRefused,
)
from smmpanel.payments.gateways import btcpay as btcpay_gateway
from smmpanel.payments.gateways.btcpay import BTCPayServer, paid_amount, sign
from smmpanel.paysim.btcpay_fake import FakeBTCPay, running_fake_btcpay

GATEWAY = BTCPayServer()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBTCPay]:
    with running_fake_btcpay() as btcpay:
        yield btcpay


def deposit(
    deposit_id: int = 42, amount: str = "10.50", external_id: str | None = None
) -> DepositRef:
    return DepositRef(
        id=deposit_id,
        amount=Decimal(amount),
        currency="USD",
        reference=f"D-{deposit_id:06d}",
        external_id=external_id,
        description="Balance top-up for alice on Test Panel",
        return_url=f"https://panel.example/funds/deposits/{deposit_id}",
        webhook_url="https://panel.example/payments/webhook/btcpay",
    )


def new_invoice(fake: FakeBTCPay, amount: str = "10.50") -> str:
    started = GATEWAY.create_payment(deposit(amount=amount), fake.config())
    assert started.external_id
    return started.external_id


def webhook(fake: FakeBTCPay, kind: str, invoice_id: str, **body: object) -> list[GatewayEvent]:
    """What the gateway makes of webhook `kind`, correctly signed."""
    payload = fake.webhook_body(kind, invoice_id)
    if body:
        payload = json.dumps({**json.loads(payload), **body}).encode()
    return GATEWAY.verify_webhook(payload, {"BTCPay-Sig": fake.signature(payload)}, fake.config())


# --- creating a payment ---------------------------------------------------------------


def test_create_payment_makes_an_invoice_with_the_deposit_id(fake: FakeBTCPay) -> None:
    started = GATEWAY.create_payment(deposit(), fake.config())
    assert started.external_id in fake.invoices
    assert started.redirect_url == f"{fake.url}/i/{started.external_id}"
    assert started.instructions is None
    method, path, body = fake.requests[-1]
    assert (method, path) == ("POST", f"/api/v1/stores/{fake.store_id}/invoices")
    assert body["amount"] == "10.50" and body["currency"] == "USD"
    assert body["metadata"]["orderId"] == "42" and body["metadata"]["reference"] == "D-000042"
    assert body["metadata"]["createdBy"] == "smmpanel"
    assert body["checkout"]["redirectURL"] == "https://panel.example/funds/deposits/42"


def test_an_amount_is_sent_as_a_plain_decimal_string(fake: FakeBTCPay) -> None:
    GATEWAY.create_payment(deposit(amount="1E+2"), fake.config())
    assert fake.requests[-1][2]["amount"] == "100"


def test_a_wrong_api_key_is_unavailable_without_the_key_in_the_message(fake: FakeBTCPay) -> None:
    config = {**fake.config(), "api_key": "Zq7xT1-not-the-key"}
    with pytest.raises(GatewayUnavailable) as refused:
        GATEWAY.create_payment(deposit(), config)
    assert "refused the API key (HTTP 401)" in str(refused.value)
    assert "Zq7xT1" not in str(refused.value)


def test_a_wrong_store_is_unavailable(fake: FakeBTCPay) -> None:
    with pytest.raises(GatewayUnavailable, match="HTTP 403"):
        GATEWAY.create_payment(deposit(), {**fake.config(), "store_id": "OtherStore"})


@pytest.mark.parametrize("missing", ["url", "store_id", "api_key"])
def test_missing_settings_are_unavailable(fake: FakeBTCPay, missing: str) -> None:
    with pytest.raises(GatewayUnavailable, match="not configured"):
        GATEWAY.create_payment(deposit(), {**fake.config(), missing: ""})


def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {"url": f"http://127.0.0.1:{port}", "store_id": "S", "api_key": "secret-key-123"}
    with pytest.raises(GatewayUnavailable, match="cannot reach BTCPay Server") as failed:
        GATEWAY.create_payment(deposit(), config)
    with pytest.raises(GatewayUnavailable, match="cannot reach BTCPay Server"):
        GATEWAY.fetch_payment(deposit(external_id="abc"), config)
    assert "secret-key-123" not in str(failed.value)


def test_an_outage_is_unavailable(fake: FakeBTCPay) -> None:
    fake.outage = True
    try:
        with pytest.raises(GatewayUnavailable, match="HTTP 503: The server is down"):
            GATEWAY.create_payment(deposit(), fake.config())
    finally:
        fake.outage = False


def test_a_slow_server_is_unavailable(fake: FakeBTCPay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(btcpay_gateway, "TIMEOUT_SECONDS", 0.2)
    fake.delay = 1.0
    try:
        with pytest.raises(GatewayUnavailable, match="did not answer in time"):
            GATEWAY.fetch_payment(deposit(external_id="abc"), fake.config())
    finally:
        fake.delay = 0.0


def test_a_private_url_is_refused_unless_allowed(
    fake: FakeBTCPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMMPANEL_ALLOW_PRIVATE_URLS", "0")
    before = len(fake.requests)
    with pytest.raises(GatewayUnavailable, match=r"URL is refused: .*loopback"):
        GATEWAY.create_payment(deposit(), fake.config())
    with pytest.raises(GatewayUnavailable, match="refused"):
        GATEWAY.fetch_payment(deposit(external_id="abc"), fake.config())
    assert len(fake.requests) == before  # nothing reached the server


# --- signatures -------------------------------------------------------------------------


def test_a_signed_settled_webhook_is_paid_after_fetching_the_invoice(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    fake.settle(invoice_id)
    body = fake.webhook_body("InvoiceSettled", invoice_id)
    [event] = GATEWAY.verify_webhook(
        body, {"BTCPay-Sig": sign(body, fake.webhook_secret)}, fake.config()
    )
    assert event.kind is EventKind.PAID
    assert (event.amount, event.currency) == (Decimal("10.50"), "USD")
    assert (event.deposit_id, event.external_id) == (42, invoice_id)
    assert event.event_id == json.loads(body)["deliveryId"]
    assert ("GET", f"/api/v1/stores/{fake.store_id}/invoices/{invoice_id}", None) in fake.requests
    kept = json.loads(event.payload)
    assert kept["webhook"] == body.decode() and kept["invoice"]["status"] == "Settled"
    assert kept["paymentMethods"][0]["totalPaid"] == kept["paymentMethods"][0]["amount"]


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda body, fake: {}, id="missing"),
        pytest.param(lambda body, fake: {"BTCPay-Sig": ""}, id="empty"),
        pytest.param(
            lambda body, fake: {"BTCPay-Sig": fake.signature(body, "other")}, id="other-secret"
        ),
        pytest.param(
            lambda body, fake: {"BTCPay-Sig": fake.signature(body + b" ")}, id="other-body"
        ),
        pytest.param(lambda body, fake: {"BTCPay-Sig": fake.signature(body)[7:]}, id="no-prefix"),
        pytest.param(lambda body, fake: {"BTCPay-Sig": "sha256=é" + "0" * 63}, id="non-ascii"),
    ],
)
def test_a_wrong_or_missing_signature_is_refused(
    fake: FakeBTCPay, spoil: Callable[[bytes, FakeBTCPay], dict[str, str]]
) -> None:
    invoice_id = new_invoice(fake)
    fake.settle(invoice_id)
    body = fake.webhook_body("InvoiceSettled", invoice_id)
    before = len(fake.requests)
    with pytest.raises(WebhookRefused):
        GATEWAY.verify_webhook(body, spoil(body, fake), fake.config())
    assert len(fake.requests) == before  # refused before asking the server anything


def test_the_header_is_found_whatever_its_case(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    fake.settle(invoice_id)
    body = fake.webhook_body("InvoiceSettled", invoice_id)
    [event] = GATEWAY.verify_webhook(body, {"btcpay-sig": fake.signature(body)}, fake.config())
    assert event.kind is EventKind.PAID


def test_without_a_webhook_secret_every_webhook_is_refused(fake: FakeBTCPay) -> None:
    body = b'{"type": "InvoiceSettled"}'
    with pytest.raises(WebhookRefused, match="secret is not set"):
        GATEWAY.verify_webhook(
            body, {"BTCPay-Sig": sign(body, "")}, {**fake.config(), "webhook_secret": ""}
        )


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_signed_body_that_is_not_an_object_is_refused(fake: FakeBTCPay, body: bytes) -> None:
    with pytest.raises(WebhookRefused, match="JSON"):
        GATEWAY.verify_webhook(body, {"BTCPay-Sig": fake.signature(body)}, fake.config())


# --- what each event comes out as ---------------------------------------------------------


@pytest.mark.parametrize(
    ("play", "kind", "expected", "amount"),
    [
        (lambda f, i: f.process(i), "InvoiceProcessing", EventKind.PENDING, None),
        (lambda f, i: f.expire(i), "InvoiceExpired", EventKind.EXPIRED, None),
        (lambda f, i: f.expire(i, paid=Decimal("3")), "InvoiceExpired", EventKind.EXPIRED, None),
        (lambda f, i: f.settle(i), "InvoiceSettled", EventKind.PAID, "10.50"),
        (lambda f, i: f.settle(i, paid=Decimal("7.50")), "InvoiceSettled", EventKind.PAID, "7.50"),
        (lambda f, i: f.settle(i, paid=Decimal("12")), "InvoiceSettled", EventKind.PAID, "10.50"),
        (
            lambda f, i: (f.process(i), f.invalidate(i, marked=False)),
            "InvoiceInvalid",
            EventKind.FAILED,
            None,
        ),
        (lambda f, i: f.invalidate(i), "InvoiceInvalid", EventKind.FAILED, None),
        (
            lambda f, i: (f.settle(i, marked=True), f.invalidate(i)),
            "InvoiceInvalid",
            EventKind.REVERSED,
            "10.50",
        ),
        (
            lambda f, i: (f.expire(i, paid=Decimal("3")), f.invalidate(i)),
            "InvoiceInvalid",
            EventKind.REVERSED,
            "3.00",
        ),
    ],
    ids=[
        "processing",
        "expired",
        "expired-partly-paid",
        "settled",
        "settled-underpaid",
        "settled-overpaid",
        "invalid-unconfirmed",
        "invalid-unpaid-marked",
        "invalid-after-marked-settled",
        "invalid-after-partly-paid",
    ],
)
def test_invoice_events_map_to_deposit_events(
    fake: FakeBTCPay,
    play: Callable[[FakeBTCPay, str], object],
    kind: str,
    expected: EventKind,
    amount: str | None,
) -> None:
    invoice_id = new_invoice(fake)
    play(fake, invoice_id)
    [event] = webhook(fake, kind, invoice_id)
    assert event.kind is expected
    assert event.amount == (None if amount is None else Decimal(amount))
    assert event.currency == (None if amount is None else "USD")
    assert (event.deposit_id, event.external_id) == (42, invoice_id)


@pytest.mark.parametrize(
    "kind", ["InvoiceCreated", "InvoiceReceivedPayment", "InvoicePaymentSettled"]
)
def test_other_event_types_are_no_events(fake: FakeBTCPay, kind: str) -> None:
    invoice_id = new_invoice(fake)
    fake.settle(invoice_id)
    before = len(fake.requests)
    assert webhook(fake, kind, invoice_id) == []
    assert len(fake.requests) == before


def test_a_settled_webhook_the_server_contradicts_is_not_paid(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    fake.process(invoice_id)
    [event] = webhook(fake, "InvoiceSettled", invoice_id)
    assert event.kind is EventKind.PENDING and event.amount is None
    fake.set_status(invoice_id, "New")
    assert webhook(fake, "InvoiceSettled", invoice_id) == []


def test_a_webhook_for_an_unknown_invoice_is_unavailable(fake: FakeBTCPay) -> None:
    # Signed by the store but unknown to it (yet): let BTCPay Server retry.
    with pytest.raises(GatewayUnavailable, match="HTTP 404"):
        webhook(fake, "InvoiceSettled", "NoSuchInvoice")


def test_a_webhook_of_another_store_is_ignored(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    fake.settle(invoice_id)
    assert webhook(fake, "InvoiceSettled", invoice_id, storeId="AnotherStore") == []


def test_an_invoice_the_panel_did_not_make_names_no_deposit(fake: FakeBTCPay) -> None:
    # Another plug-in's invoice in the same store, with an orderId of its own:
    # found (or not) by its invoice id alone, never as deposit 42.
    invoice_id = new_invoice(fake)
    fake.invoice(invoice_id).metadata.pop("createdBy")
    fake.settle(invoice_id)
    [event] = webhook(fake, "InvoiceSettled", invoice_id)
    assert (event.deposit_id, event.external_id) == (None, invoice_id)


def test_an_event_type_that_is_not_a_string_is_no_event(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    assert webhook(fake, "InvoiceSettled", invoice_id, type=["InvoiceSettled"]) == []


def test_a_redelivery_keeps_the_original_delivery_id(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    fake.settle(invoice_id)
    body = fake.webhook_body(
        "InvoiceSettled", invoice_id, delivery_id="second", original_id="first"
    )
    assert json.loads(body)["isRedelivery"] is True
    [event] = GATEWAY.verify_webhook(body, {"BTCPay-Sig": fake.signature(body)}, fake.config())
    assert event.event_id == "first"


# --- reconciliation -------------------------------------------------------------------------


def test_fetch_payment_reads_the_invoice_state(fake: FakeBTCPay) -> None:
    invoice_id = new_invoice(fake)
    ref = deposit(external_id=invoice_id)
    assert GATEWAY.fetch_payment(ref, fake.config()) is None  # New: nothing to say yet
    fake.process(invoice_id)
    pending = GATEWAY.fetch_payment(ref, fake.config())
    assert pending is not None and pending.kind is EventKind.PENDING
    fake.settle(invoice_id, paid=Decimal("5.25"))
    paid = GATEWAY.fetch_payment(ref, fake.config())
    assert paid is not None and paid.kind is EventKind.PAID
    assert (paid.amount, paid.currency, paid.deposit_id) == (Decimal("5.25"), "USD", 42)
    assert paid.event_id == f"invoice:{invoice_id}:Settled"


def test_fetch_payment_without_an_invoice_says_nothing(fake: FakeBTCPay) -> None:
    before = len(fake.requests)
    assert GATEWAY.fetch_payment(deposit(external_id=None), fake.config()) is None
    assert len(fake.requests) == before


def test_fetch_payment_of_an_unknown_invoice_is_unavailable(fake: FakeBTCPay) -> None:
    with pytest.raises(GatewayUnavailable, match="no such store or invoice"):
        GATEWAY.fetch_payment(deposit(external_id="NoSuchInvoice"), fake.config())


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [("1", "10.00"), ("1.5", "10.00"), ("0.9999999", "9.99"), ("0.755", "7.55"), ("0", "0.00")],
)
def test_a_part_payment_rounds_down_to_the_cent(fraction: str, expected: str) -> None:
    assert paid_amount(Decimal("10.00"), min(Decimal(fraction), Decimal(1))) == Decimal(expected)


def test_an_awkward_rate_still_credits_a_full_payment_exactly() -> None:
    with running_fake_btcpay(rate=Decimal("43210.77")) as fake:
        invoice_id = new_invoice(fake, amount="33.33")
        fake.settle(invoice_id)
        [event] = webhook(fake, "InvoiceSettled", invoice_id)
    assert (event.kind, event.amount) == (EventKind.PAID, Decimal("33.33"))
