"""The Stripe Checkout gateway against the fake Stripe, without the panel:
the real `stripe` client's requests, Stripe's signatures and event types."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
import stripe

from smmpanel.payments.gateway import (
    DepositRef,
    EventKind,
    GatewayEvent,
    GatewayUnavailable,
    WebhookRefused,
)
from smmpanel.payments.gateways import stripe_checkout
from smmpanel.payments.gateways.stripe_checkout import StripeCheckout
from smmpanel.payments.gateways.stripe_http import GuardedStripeHttp
from smmpanel.paysim.stripe_fake import RunningFakeStripe, running_fake_stripe

GATEWAY = StripeCheckout()


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningFakeStripe]:
    with running_fake_stripe() as running:
        yield running


def config_of(fake: RunningFakeStripe, **changes: str) -> dict[str, str]:
    values = {
        "secret_key": fake.api_key,
        "webhook_secret": fake.webhook_secret,
        "api_base": fake.base_url,
    }
    return values | changes


def deposit(deposit_id: int = 7, amount: str = "12.34", currency: str = "USD") -> DepositRef:
    return DepositRef(
        id=deposit_id,
        amount=Decimal(amount),
        currency=currency,
        reference=f"D-{deposit_id:06d}",
        external_id=None,
        description="Balance top-up for alice on Test panel",
        return_url=f"https://panel.example/funds/deposits/{deposit_id}",
        webhook_url="https://panel.example/payments/webhook/stripe",
    )


def started(fake: RunningFakeStripe, ref: DepositRef | None = None) -> DepositRef:
    """A deposit whose Checkout Session exists at the fake."""
    ref = ref or deposit()
    start = GATEWAY.create_payment(ref, config_of(fake))
    return replace(ref, external_id=start.external_id)


def verify(fake: RunningFakeStripe, event: dict[str, Any], **config: str) -> list[GatewayEvent]:
    body = json.dumps(event).encode()
    headers = {"Stripe-Signature": fake.control.sign(body)}
    return GATEWAY.verify_webhook(body, headers, config_of(fake, **config))


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- create ---------------------------------------------------------------------------------


def test_create_payment_opens_a_checkout_session_for_the_deposit(fake: RunningFakeStripe) -> None:
    start = GATEWAY.create_payment(deposit(41, "12.34"), config_of(fake))

    assert start.external_id is not None and start.external_id.startswith("cs_test_")
    session = fake.control.session(start.external_id)
    assert start.redirect_url == session["url"]
    assert start.instructions is None
    assert session["amount_total"] == 1234
    assert session["currency"] == "usd"
    assert session["client_reference_id"] == "41"
    assert session["metadata"] == {"deposit_id": "41", "reference": "D-000041"}
    assert (
        session["success_url"] == session["cancel_url"] == "https://panel.example/funds/deposits/41"
    )
    assert session["status"] == "open"


def test_zero_decimal_currency_is_sent_in_whole_units(fake: RunningFakeStripe) -> None:
    start = GATEWAY.create_payment(deposit(42, "1500", "JPY"), config_of(fake))

    assert start.external_id is not None
    assert fake.control.session(start.external_id)["amount_total"] == 1500


@pytest.mark.parametrize(("amount", "currency"), [("10", "KWD"), ("10", "HUF"), ("10.5", "JPY")])
def test_a_currency_or_amount_it_cannot_send_exactly_is_refused_before_calling_stripe(
    fake: RunningFakeStripe, amount: str, currency: str
) -> None:
    calls = len(fake.control.requests())

    with pytest.raises(GatewayUnavailable, match=currency):
        GATEWAY.create_payment(deposit(43, amount, currency), config_of(fake))

    assert len(fake.control.requests()) == calls


def test_a_wrong_key_is_unavailable_and_the_message_never_holds_the_key(
    fake: RunningFakeStripe,
) -> None:
    key = "sk_test_thisisnotthekey0123456789"

    with pytest.raises(GatewayUnavailable) as caught:
        GATEWAY.create_payment(deposit(), config_of(fake, secret_key=key))

    assert "secret key" in str(caught.value)
    assert key not in str(caught.value)
    assert "thisisnotthekey" not in str(caught.value)


def test_unreachable_stripe_is_unavailable_at_once(fake: RunningFakeStripe) -> None:
    config = config_of(fake, api_base=closed_port_url())
    began = time.monotonic()

    with pytest.raises(GatewayUnavailable, match="could not be reached") as caught:
        GATEWAY.create_payment(deposit(), config)
    with pytest.raises(GatewayUnavailable, match="could not be reached"):
        GATEWAY.fetch_payment(replace(deposit(), external_id="cs_test_x"), config)

    assert time.monotonic() - began < 10  # no retries with back-off
    assert fake.api_key not in str(caught.value)


def test_a_slow_stripe_times_out_as_unavailable(
    fake: RunningFakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe_checkout, "TIMEOUT", 0.5)
    ref = started(fake)
    fake.control.slow_down(3)
    began = time.monotonic()
    try:
        with pytest.raises(GatewayUnavailable, match="could not be reached"):
            GATEWAY.fetch_payment(ref, config_of(fake))
    finally:
        fake.control.slow_down(0)

    assert time.monotonic() - began < 2.5


def test_no_secret_key_is_unavailable(fake: RunningFakeStripe) -> None:
    with pytest.raises(GatewayUnavailable, match="secret_key"):
        GATEWAY.create_payment(deposit(), config_of(fake, secret_key=""))


def test_the_fake_refuses_a_request_without_the_key(fake: RunningFakeStripe) -> None:
    answer = httpx.get(f"{fake.base_url}/v1/checkout/sessions/cs_test_x")

    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"


# --- webhook signatures -------------------------------------------------------------------


def test_a_correctly_signed_completed_session_is_paid(fake: RunningFakeStripe) -> None:
    ref = started(fake)
    event = fake.control.complete(str(ref.external_id))

    [paid] = verify(fake, event)

    assert paid.kind is EventKind.PAID
    assert paid.event_id == event["id"]
    assert (paid.deposit_id, paid.external_id) == (7, ref.external_id)
    assert (paid.amount, paid.currency) == (Decimal("12.34"), "USD")
    assert event["id"] in paid.payload


def signed_twice(fake: RunningFakeStripe) -> tuple[bytes, dict[str, Any]]:
    ref = started(fake)
    event = fake.control.complete(str(ref.external_id))
    return json.dumps(event).encode(), event


@pytest.mark.parametrize("case", ["wrong", "missing", "stale", "tampered", "garbled"])
def test_a_webhook_not_signed_by_stripe_is_refused(fake: RunningFakeStripe, case: str) -> None:
    body, _ = signed_twice(fake)
    headers = {
        "wrong": {"Stripe-Signature": fake.control.sign(body, secret="whsec_other")},
        "missing": {},
        "stale": {"Stripe-Signature": fake.control.sign(body, timestamp=int(time.time()) - 600)},
        "tampered": {"Stripe-Signature": fake.control.sign(body)},
        "garbled": {"Stripe-Signature": "t=abc,v1"},
    }[case]
    if case == "tampered":
        body = body.replace(b'"amount_total": 1234', b'"amount_total": 99999')

    with pytest.raises(WebhookRefused):
        GATEWAY.verify_webhook(body, headers, config_of(fake))


def test_a_signed_body_that_is_not_an_event_is_refused(fake: RunningFakeStripe) -> None:
    for body in (b"not json", b"\xff\xfe", b'{"object": "event", "type": "x"}'):
        with pytest.raises(WebhookRefused):
            GATEWAY.verify_webhook(
                body, {"stripe-signature": fake.control.sign(body)}, config_of(fake)
            )


def test_without_a_webhook_secret_every_webhook_is_refused(fake: RunningFakeStripe) -> None:
    body, _ = signed_twice(fake)

    with pytest.raises(WebhookRefused):
        GATEWAY.verify_webhook(
            body, {"Stripe-Signature": fake.control.sign(body)}, config_of(fake, webhook_secret="")
        )


# --- event mapping --------------------------------------------------------------------------


def test_a_completed_but_unpaid_session_is_pending(fake: RunningFakeStripe) -> None:
    ref = started(fake)

    [pending] = verify(fake, fake.control.complete(str(ref.external_id), paid=False))

    assert pending.kind is EventKind.PENDING
    assert pending.deposit_id == 7


def test_an_asynchronous_payment_that_succeeds_is_paid(fake: RunningFakeStripe) -> None:
    ref = started(fake)
    fake.control.complete(str(ref.external_id), paid=False)

    [paid] = verify(fake, fake.control.succeed_async(str(ref.external_id)))

    assert (paid.kind, paid.amount, paid.currency) == (EventKind.PAID, Decimal("12.34"), "USD")


def test_an_asynchronous_payment_that_fails_is_failed(fake: RunningFakeStripe) -> None:
    ref = started(fake)
    fake.control.complete(str(ref.external_id), paid=False)

    [failed] = verify(fake, fake.control.fail_async(str(ref.external_id)))

    assert (failed.kind, failed.external_id) == (EventKind.FAILED, ref.external_id)


def test_an_expired_session_is_expired(fake: RunningFakeStripe) -> None:
    ref = started(fake)

    [expired] = verify(fake, fake.control.expire(str(ref.external_id)))

    assert (expired.kind, expired.deposit_id) == (EventKind.EXPIRED, 7)


def test_an_underpayment_is_reported_as_paid_with_what_was_paid(fake: RunningFakeStripe) -> None:
    ref = started(fake)

    [paid] = verify(fake, fake.control.complete(str(ref.external_id), amount_total=500))

    assert (paid.kind, paid.amount, paid.currency) == (EventKind.PAID, Decimal("5.00"), "USD")


def test_a_refund_is_a_reversal_found_through_the_payment_intent(fake: RunningFakeStripe) -> None:
    ref = started(fake, deposit(44))
    fake.control.complete(str(ref.external_id))

    [reversed_] = verify(fake, fake.control.refund(str(ref.external_id), amount=1000))

    assert reversed_.kind is EventKind.REVERSED
    assert (reversed_.deposit_id, reversed_.external_id) == (44, ref.external_id)
    assert (reversed_.amount, reversed_.currency) == (Decimal("10.00"), "USD")
    assert ("GET", "/v1/checkout/sessions") in fake.control.requests()


def test_a_dispute_is_a_reversal(fake: RunningFakeStripe) -> None:
    ref = started(fake, deposit(45))
    fake.control.complete(str(ref.external_id))

    [reversed_] = verify(fake, fake.control.dispute(str(ref.external_id)))

    assert (reversed_.kind, reversed_.deposit_id) == (EventKind.REVERSED, 45)
    assert reversed_.amount == Decimal("12.34")


def test_a_refund_of_a_payment_not_made_through_checkout_says_nothing(
    fake: RunningFakeStripe,
) -> None:
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_unknown",
              "amount": 100, "amount_refunded": 100, "currency": "usd"}  # fmt: skip
    orphan = {**charge, "payment_intent": None}

    assert verify(fake, fake.control.forge("charge.refunded", charge)) == []
    assert verify(fake, fake.control.forge("charge.refunded", orphan)) == []


def test_other_event_types_say_nothing(fake: RunningFakeStripe) -> None:
    event = fake.control.forge("customer.created", {"id": "cus_1", "object": "customer"})

    assert verify(fake, event) == []


def test_a_session_of_another_application_names_no_deposit(fake: RunningFakeStripe) -> None:
    ref = started(fake)
    session = fake.control.session(str(ref.external_id)) | {"metadata": {}}

    [expired] = verify(fake, fake.control.forge("checkout.session.expired", session))

    assert expired.deposit_id is None
    assert expired.external_id == ref.external_id


# --- fetched again before PAID --------------------------------------------------------------


def test_an_event_saying_paid_while_stripe_says_unpaid_is_only_pending(
    fake: RunningFakeStripe,
) -> None:
    ref = started(fake)
    session = fake.control.session(str(ref.external_id))
    forged = session | {"status": "complete", "payment_status": "paid"}

    [event] = verify(fake, fake.control.forge("checkout.session.completed", forged))

    assert event.kind is EventKind.PENDING
    assert ("GET", f"/v1/checkout/sessions/{ref.external_id}") in fake.control.requests()


def test_the_amount_credited_is_stripes_not_the_events(fake: RunningFakeStripe) -> None:
    ref = started(fake)
    fake.control.complete(str(ref.external_id))
    inflated = fake.control.session(str(ref.external_id)) | {"amount_total": 999_999}

    [paid] = verify(fake, fake.control.forge("checkout.session.completed", inflated))

    assert (paid.kind, paid.amount) == (EventKind.PAID, Decimal("12.34"))


def test_a_paid_event_when_stripe_cannot_be_reached_is_unavailable(
    fake: RunningFakeStripe,
) -> None:
    ref = started(fake)
    event = fake.control.complete(str(ref.external_id))

    with pytest.raises(GatewayUnavailable):
        verify(fake, event, api_base=closed_port_url())


# --- fetch ----------------------------------------------------------------------------------


def test_fetch_follows_the_session(fake: RunningFakeStripe) -> None:
    config = config_of(fake)
    open_ref, paid_ref, late_ref, gone_ref = (started(fake, deposit(n)) for n in (50, 51, 52, 53))
    fake.control.complete(str(paid_ref.external_id))
    fake.control.complete(str(late_ref.external_id), paid=False)
    fake.control.expire(str(gone_ref.external_id))

    paid = GATEWAY.fetch_payment(paid_ref, config)
    late = GATEWAY.fetch_payment(late_ref, config)
    gone = GATEWAY.fetch_payment(gone_ref, config)

    assert GATEWAY.fetch_payment(open_ref, config) is None
    assert paid is not None and late is not None and gone is not None
    assert (paid.kind, paid.deposit_id, paid.amount) == (EventKind.PAID, 51, Decimal("12.34"))
    assert (late.kind, gone.kind) == (EventKind.PENDING, EventKind.EXPIRED)
    assert GATEWAY.fetch_payment(deposit(), config) is None  # no session yet


def test_fetch_of_an_unknown_session_is_unavailable(fake: RunningFakeStripe) -> None:
    with pytest.raises(GatewayUnavailable, match="404"):
        GATEWAY.fetch_payment(replace(deposit(), external_id="cs_test_nosuch"), config_of(fake))


def test_the_fake_serves_its_events_to_the_real_client(fake: RunningFakeStripe) -> None:
    ref = started(fake)
    event = fake.control.expire(str(ref.external_id))
    http = GuardedStripeHttp(timeout=5)
    client = stripe.StripeClient(
        fake.api_key, base_addresses={"api": fake.base_url}, http_client=http
    )

    fetched = client.v1.events.retrieve(event["id"])
    http.close()

    assert (fetched.id, fetched.type) == (event["id"], "checkout.session.expired")
    assert fetched.data.object["id"] == ref.external_id
