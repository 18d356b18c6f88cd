"""The demo gateway: no money moves.  Its payment page is the panel's own
(/funds/demo-pay/{id}, smmpanel/web/pages_deposits.py), whose "Pay" and "Fail"
buttons make the panel post a webhook signed like a real gateway's to its own
/payments/webhook/demo, so a demo and the browser tests credit through the same
path as Stripe or BTCPay.  Offered only when SMMPANEL_DEMO_PAYMENTS is on.

The webhook's body is a JSON object ``{"id", "deposit_id", "event", "amount",
"currency"}`` (`event` "paid" or "failed", `amount` a decimal string) and its
``X-Demo-Signature`` header is ``sha256=`` and the hex HMAC-SHA256 of the raw
body under the gateway's `secret` setting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from smmpanel.payments.gateway import (
    DepositRef,
    EventKind,
    GatewayEvent,
    PaymentStart,
    SettingField,
    WebhookRefused,
)

SIGNATURE_HEADER = "x-demo-signature"
SIGNATURE_PREFIX = "sha256="
EVENTS = {"paid": EventKind.PAID, "failed": EventKind.FAILED}
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook ready to post: the exact body and its headers."""

    body: bytes
    headers: dict[str, str]


def signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def signed_webhook(
    *,
    deposit_id: int,
    event: str,
    amount: Decimal,
    currency: str,
    secret: str,
    event_id: str | None = None,
) -> SignedWebhook:
    """The webhook the demo gateway sends for a deposit.  The event id defaults
    to one per deposit and outcome, so pressing "Pay" twice sends the same event
    twice (which credits once), as a gateway's retries do."""
    if event not in EVENTS:
        raise ValueError(f"a demo event is one of: {', '.join(EVENTS)}")
    payload = {
        "id": event_id or f"demo-{deposit_id}-{event}",
        "deposit_id": deposit_id,
        "event": event,
        "amount": str(amount),
        "currency": currency,
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SignedWebhook(
        body=body,
        headers={"content-type": "application/json", SIGNATURE_HEADER: signature(body, secret)},
    )


class DemoGateway:
    code: ClassVar[str] = "demo"
    title: ClassVar[str] = "Demo payment (no money)"
    fields: ClassVar[tuple[SettingField, ...]] = (
        SettingField("secret", "Webhook signing secret", secret=True),
    )
    demo_only: ClassVar[bool] = True
    manual: ClassVar[bool] = False

    def create_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> PaymentStart:
        return PaymentStart(
            external_id=f"demo-{deposit.id}",
            redirect_url=f"{_panel_of(deposit)}/funds/demo-pay/{deposit.id}",
        )

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], config: Mapping[str, str]
    ) -> list[GatewayEvent]:
        secret = config.get("secret", "")
        if not secret:
            raise WebhookRefused("the demo gateway has no secret set")
        given = _header(headers, SIGNATURE_HEADER)
        if not given or not hmac.compare_digest(given.encode(), signature(body, secret).encode()):
            raise WebhookRefused("wrong or missing signature")
        data = _object(body)
        return [
            GatewayEvent(
                kind=EVENTS[_choice(data, "event")],
                event_id=_text(data, "id", 100),
                deposit_id=_deposit_id(data),
                external_id=None,
                amount=_amount(data),
                currency=_text(data, "currency", 10).upper(),
                payload=body.decode(),
            )
        ]

    def fetch_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> GatewayEvent | None:
        # Nothing to ask: the demo's payments live only in its webhooks.
        return None


def _panel_of(deposit: DepositRef) -> str:
    """The panel's base URL, from the return URL it gave ({panel}/funds/deposits/{id});
    a relative URL when it does not have that shape."""
    suffix = f"/funds/deposits/{deposit.id}"
    url = deposit.return_url
    return url[: -len(suffix)] if url.endswith(suffix) else ""


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused("the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRefused("the body is not a JSON object")
    return data


def _text(data: dict[str, Any], name: str, longest: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > longest:
        raise WebhookRefused(f"{name}: a text of 1 to {longest} characters")
    return value


def _choice(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value not in EVENTS:
        raise WebhookRefused(f"{name}: one of {', '.join(EVENTS)}")
    return str(value)


def _deposit_id(data: dict[str, Any]) -> int:
    value = data.get("deposit_id")
    # bool is an int in Python: true is not deposit 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise WebhookRefused("deposit_id: a positive whole number")
    return value


def _amount(data: dict[str, Any]) -> Decimal:
    text = _text(data, "amount", 30)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise WebhookRefused("amount: a decimal number") from None
    if not amount.is_finite() or amount < 0:
        raise WebhookRefused("amount: a decimal number")
    return amount
