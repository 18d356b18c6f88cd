"""Stripe Checkout: the customer pays on a Checkout Session hosted by Stripe,
and the panel credits on Stripe's signed webhooks.

- create: a Checkout Session in payment mode, one line item of the deposit's
  amount, `client_reference_id` and metadata naming the deposit; the customer
  is sent to the session's URL.
- webhook: `stripe.Webhook.construct_event` checks the `Stripe-Signature`
  header on the raw body (and its age).  Before a PAID event is returned the
  session is fetched again from the API and its payment status, amount and
  currency are the ones used: a replayed, stale or hand-made event can never
  credit more than Stripe holds.
- fetch: the session's current state, for the reconciliation job.

Every call goes through `stripe_http.GuardedStripeHttp` (the outbound guard,
a timeout, no retries: Stripe retries its webhooks and the worker retries its
look-ups, so a slow call is better failed fast).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, ClassVar

import stripe

from smmpanel.payments.gateway import (
    DepositRef,
    EventKind,
    GatewayEvent,
    GatewayUnavailable,
    PaymentStart,
    SettingField,
    WebhookRefused,
)
from smmpanel.payments.gateways.stripe_http import (
    GuardedStripeHttp,
    UnsupportedCurrency,
    from_stripe_amount,
    to_stripe_amount,
)

STRIPE_API = "https://api.stripe.com"
TIMEOUT = 15.0
# How old a signed webhook may be (Stripe's own default): an older one is refused.
SIGNATURE_TOLERANCE = 300
SIGNATURE_HEADER = "stripe-signature"

SESSION_PAID = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
REVERSALS = frozenset({"charge.refunded", "charge.dispute.created"})


class StripeCheckout:
    """The `stripe` gateway (entry point in pyproject.toml)."""

    code: ClassVar[str] = "stripe"
    title: ClassVar[str] = "Card (Stripe)"
    fields: ClassVar[tuple[SettingField, ...]] = (
        SettingField("secret_key", "Secret API key (sk_live_... or sk_test_...)", secret=True),
        SettingField("webhook_secret", "Webhook signing secret (whsec_...)", secret=True),
        SettingField("api_base", "API address (only to test against a fake)", required=False),
    )
    demo_only: ClassVar[bool] = False
    manual: ClassVar[bool] = False

    # --- the three operations ----------------------------------------------------------

    def create_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> PaymentStart:
        try:
            unit_amount = to_stripe_amount(deposit.amount, deposit.currency)
        except UnsupportedCurrency as exc:
            raise GatewayUnavailable(str(exc)) from None
        ids = {"deposit_id": str(deposit.id), "reference": deposit.reference}
        with _client(config) as client:
            session = client.v1.checkout.sessions.create(
                {
                    "mode": "payment",
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": deposit.currency.lower(),
                                "unit_amount": unit_amount,
                                "product_data": {"name": deposit.description},
                            },
                        }
                    ],
                    "client_reference_id": str(deposit.id),
                    "metadata": ids,
                    # Shown in Stripe's dashboard on the payment itself.
                    "payment_intent_data": {"metadata": ids, "description": deposit.reference},
                    "success_url": deposit.return_url,
                    "cancel_url": deposit.return_url,
                }
            )
        if not session.url:
            raise GatewayUnavailable("Stripe created a Checkout Session without a payment page")
        return PaymentStart(external_id=session.id, redirect_url=session.url)

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], config: Mapping[str, str]
    ) -> list[GatewayEvent]:
        event = _verified_event(body, _header(headers, SIGNATURE_HEADER), config)
        kind, obj = str(event.get("type", "")), _data_object(event)
        if kind == "checkout.session.completed" and obj.get("payment_status") != "paid":
            # "unpaid": an asynchronous method (a bank debit) is still processing.
            return [_session_event(EventKind.PENDING, event, obj, body)]
        if kind in SESSION_PAID:
            with _client(config) as client:
                fetched = _retrieve_session(client, str(obj.get("id", "")))
            return [_paid_if_paid(event, fetched, body)]
        if kind == "checkout.session.async_payment_failed":
            return [_session_event(EventKind.FAILED, event, obj, body)]
        if kind == "checkout.session.expired":
            return [_session_event(EventKind.EXPIRED, event, obj, body)]
        if kind in REVERSALS:
            return _reversal(event, obj, body, config)
        return []

    def fetch_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> GatewayEvent | None:
        if not deposit.external_id:
            return None  # the session was never created: nothing to ask Stripe about
        with _client(config) as client:
            session = _retrieve_session(client, deposit.external_id)
        status, paid = session.get("status"), session.get("payment_status") == "paid"
        event_id = f"fetch:{session.get('id')}:{status}:{session.get('payment_status')}"
        payload = json.dumps(session, sort_keys=True)
        if paid:
            return _from_session(EventKind.PAID, event_id, session, payload)
        if status == "expired":
            return _from_session(EventKind.EXPIRED, event_id, session, payload)
        if status == "complete":
            # Completed but unpaid: an asynchronous payment is still processing.
            return _from_session(EventKind.PENDING, event_id, session, payload)
        return None  # open: the customer has not paid yet


# --- the client ---------------------------------------------------------------------------


@contextmanager
def _client(config: Mapping[str, str]) -> Iterator[stripe.StripeClient]:
    """A Stripe client for one operation; Stripe's errors become GatewayUnavailable
    with a message that holds neither key."""
    key = config.get("secret_key", "")
    if not key:
        raise GatewayUnavailable("Stripe is not configured: set its secret_key")
    http = GuardedStripeHttp(timeout=TIMEOUT)
    client = stripe.StripeClient(
        key,
        base_addresses={"api": (config.get("api_base") or STRIPE_API).rstrip("/")},
        http_client=http,
        max_network_retries=0,
    )
    try:
        yield client
    except stripe.StripeError as exc:
        raise GatewayUnavailable(_describe(exc, config)) from None
    finally:
        http.close()


def _describe(exc: stripe.StripeError, config: Mapping[str, str]) -> str:
    if isinstance(exc, stripe.APIConnectionError):
        return f"Stripe could not be reached: {exc.user_message or 'network error'}"
    if isinstance(exc, stripe.AuthenticationError):
        return "Stripe refused the secret key (check secret_key)"
    detail = str(exc.user_message or exc.code or type(exc).__name__)
    for secret in (config.get("secret_key"), config.get("webhook_secret")):
        if secret:
            detail = detail.replace(secret, "***")
    return f"Stripe refused the request ({exc.http_status}): {detail[:200]}"


def _retrieve_session(client: stripe.StripeClient, session_id: str) -> dict[str, Any]:
    if not session_id.startswith("cs_"):
        raise GatewayUnavailable("Stripe sent an event without a Checkout Session id")
    return client.v1.checkout.sessions.retrieve(session_id).to_dict()


# --- webhooks ------------------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header whatever the case of its name (the edge may pass a plain dict)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _verified_event(
    body: bytes, signature: str | None, config: Mapping[str, str]
) -> dict[str, Any]:
    secret = config.get("webhook_secret", "")
    if not secret:
        # Not the sender's fault, but nothing can be verified: refuse rather than trust.
        raise WebhookRefused("Stripe's webhook_secret is not set")
    try:
        event = stripe.Webhook.construct_event(body, signature, secret, SIGNATURE_TOLERANCE)
        values = event.to_dict()
    except stripe.SignatureVerificationError:
        raise WebhookRefused("the Stripe-Signature does not match the body") from None
    except (ValueError, UnicodeDecodeError, TypeError):
        raise WebhookRefused("the body is not a Stripe event") from None
    if not isinstance(values.get("data"), dict):
        raise WebhookRefused("the body is not a Stripe event")
    return values


def _data_object(event: Mapping[str, Any]) -> dict[str, Any]:
    obj = event["data"].get("object")
    return obj if isinstance(obj, dict) else {}


def _deposit_id(session: Mapping[str, Any]) -> int | None:
    """Our deposit id, when the session is ours: client_reference_id and the
    metadata we set agree.  Another application on the same Stripe account may
    use numeric client_reference_ids of its own; those are not taken as ours."""
    reference = session.get("client_reference_id")
    metadata = session.get("metadata") or {}
    if not reference or metadata.get("deposit_id") != reference:
        return None
    try:
        return int(reference)
    except (TypeError, ValueError):
        return None


def _from_session(
    kind: EventKind, event_id: str, session: Mapping[str, Any], payload: str
) -> GatewayEvent:
    amount, currency = _money(session.get("amount_total"), session.get("currency"))
    return GatewayEvent(
        kind=kind,
        event_id=event_id,
        deposit_id=_deposit_id(session),
        external_id=str(session.get("id") or "") or None,
        amount=amount,
        currency=currency,
        payload=payload,
    )


def _money(amount: Any, currency: Any) -> tuple[Decimal | None, str | None]:
    """A Stripe amount and currency in major units; the amount is None when
    either is missing or the currency is one whose units we do not know (then
    it cannot match the deposit, so a payment is held for the owner rather than
    read with a guessed exponent)."""
    code = currency.upper() if isinstance(currency, str) and currency else None
    if code is None or not isinstance(amount, int):
        return None, code
    try:
        return from_stripe_amount(amount, code), code
    except UnsupportedCurrency:
        return None, code


def _session_event(
    kind: EventKind, event: Mapping[str, Any], session: Mapping[str, Any], body: bytes
) -> GatewayEvent:
    return _from_session(kind, str(event.get("id")), session, body.decode("utf-8"))


def _paid_if_paid(
    event: Mapping[str, Any], fetched: Mapping[str, Any], body: bytes
) -> GatewayEvent:
    """PAID from the session as the API has it now, not as the event says;
    PENDING when Stripe does not hold the money (yet)."""
    payload = json.dumps({"event": event, "fetched_session": fetched}, sort_keys=True)
    paid = fetched.get("payment_status") == "paid"
    kind = EventKind.PAID if paid else EventKind.PENDING
    return _from_session(kind, str(event.get("id")), fetched, payload)


def _reversal(
    event: Mapping[str, Any], obj: Mapping[str, Any], body: bytes, config: Mapping[str, str]
) -> list[GatewayEvent]:
    """A refund (charge.refunded, a Charge) or a dispute (charge.dispute.created,
    a Dispute), matched to its Checkout Session through the PaymentIntent.

    The session is found by listing sessions by `payment_intent`, not through
    metadata: a Charge does not carry its PaymentIntent's metadata, a Dispute
    carries none of ours, and the listing is an answer from the API itself
    that names the session id the deposit stored as its external id."""
    intent = obj.get("payment_intent")
    if not isinstance(intent, str) or not intent:
        return []  # not a payment made through Checkout
    with _client(config) as client:
        found = client.v1.checkout.sessions.list({"payment_intent": intent, "limit": 1})
        sessions = [item.to_dict() for item in found.data]
    if not sessions:
        return []  # a payment of another application on the same account
    session = sessions[0]
    # What was taken back: all refunds so far, or the disputed amount.
    field = "amount_refunded" if event.get("type") == "charge.refunded" else "amount"
    amount, currency = _money(obj.get(field), obj.get("currency"))
    return [
        GatewayEvent(
            kind=EventKind.REVERSED,
            event_id=str(event.get("id")),
            deposit_id=_deposit_id(session),
            external_id=str(session.get("id") or "") or None,
            amount=amount,
            currency=currency,
            payload=body.decode("utf-8"),
        )
    ]
