"""A stand-in payment gateway for the tests (an outside party: its webhooks are
JSON signed with HMAC-SHA256 of the `secret` setting), installed the way a
third-party plug-in is: an entry point in a dist-info on sys.path (conftest)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from smmpanel.payments.gateway import (
    DepositRef,
    EventKind,
    GatewayEvent,
    GatewayUnavailable,
    PaymentStart,
    SettingField,
    WebhookRefused,
)

SECRET = "whsec_fake_gateway_secret"
SIGNATURE = "X-Fake-Signature"


class FakeGateway:
    code: ClassVar[str] = "fake"
    title: ClassVar[str] = "Fake Pay"
    fields: ClassVar[tuple[SettingField, ...]] = (
        SettingField("secret", "Webhook signing secret", secret=True),
        SettingField("shop", "Shop name", required=False, default="test-shop"),
    )
    demo_only: ClassVar[bool] = False
    manual: ClassVar[bool] = False

    # What the gateway "knows", set by tests: deposit id -> its answer to a look-up.
    answers: ClassVar[dict[int, GatewayEvent | None]] = {}
    # Set to make create_payment / fetch_payment fail as an unreachable gateway does.
    down: ClassVar[bool] = False
    created: ClassVar[list[tuple[DepositRef, dict[str, str]]]] = []
    # Set to answer every create_payment with this (a misbehaving gateway).
    start_override: ClassVar[PaymentStart | None] = None

    def create_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> PaymentStart:
        if FakeGateway.down:
            raise GatewayUnavailable("fake gateway is down")
        FakeGateway.created.append((deposit, dict(config)))
        if FakeGateway.start_override is not None:
            return FakeGateway.start_override
        return PaymentStart(
            external_id=f"fk_{deposit.id}", redirect_url=f"https://pay.example/c/fk_{deposit.id}"
        )

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], config: Mapping[str, str]
    ) -> list[GatewayEvent]:
        given = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE.lower(), "")
        if not hmac.compare_digest(given, sign(body, config.get("secret", ""))):
            raise WebhookRefused("wrong signature")
        try:
            data = json.loads(body)
        except ValueError:
            raise WebhookRefused("not JSON") from None
        return [_event(data, body.decode())]

    def fetch_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> GatewayEvent | None:
        if FakeGateway.down:
            raise GatewayUnavailable("fake gateway is down")
        return FakeGateway.answers.get(deposit.id)


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _event(data: dict[str, Any], payload: str) -> GatewayEvent:
    amount = data.get("amount")
    return GatewayEvent(
        kind=EventKind(data["kind"]),
        event_id=str(data["event_id"]),
        deposit_id=data.get("deposit_id"),
        external_id=data.get("external_id"),
        amount=None if amount is None else Decimal(str(amount)),
        currency=data.get("currency"),
        payload=payload,
    )


def event(
    kind: EventKind,
    deposit_id: int | None,
    amount: str | None = None,
    currency: str | None = "USD",
    *,
    event_id: str = "evt_1",
    external_id: str | None = None,
) -> GatewayEvent:
    """A normalised event, as the fake's verify_webhook would return it."""
    return GatewayEvent(
        kind=kind,
        event_id=event_id,
        deposit_id=deposit_id,
        external_id=external_id,
        amount=None if amount is None else Decimal(amount),
        currency=currency,
        payload=json.dumps({"kind": kind.value, "deposit_id": deposit_id, "amount": amount}),
    )


def webhook(
    kind: EventKind,
    deposit_id: int | None,
    amount: str | None = None,
    currency: str | None = "USD",
    *,
    event_id: str = "evt_1",
    secret: str = SECRET,
) -> tuple[bytes, dict[str, str]]:
    """A signed webhook body and headers."""
    body = json.dumps(
        {
            "kind": kind.value,
            "event_id": event_id,
            "deposit_id": deposit_id,
            "amount": amount,
            "currency": currency,
        }
    ).encode()
    return body, {SIGNATURE: sign(body, secret), "Content-Type": "application/json"}
