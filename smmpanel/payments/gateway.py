"""The gateway port: what a payment gateway plug-in implements, and the plain
values it exchanges with the panel.

A gateway never touches the database: the payments service hands it a
`DepositRef` and the gateway's settings (secrets already decrypted), and gets
back a `PaymentStart` or normalised `GatewayEvent`s.  Its three operations may
call the gateway over the network, so the service calls them outside any
transaction.  Gateways are found through the ``smmpanel.gateways`` entry-point
group (smmpanel/payments/registry.py): a third-party package adds one by naming
its class there (docs/payments.md, "Writing a gateway").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Protocol


class EventKind(StrEnum):
    """What a gateway says happened to a payment.  The values are stored in
    deposit events: never change one."""

    PENDING = "pending"  # the customer started paying (e.g. an invoice is processing)
    PAID = "paid"  # the money is received: credit it (when amount and currency match)
    FAILED = "failed"  # the payment failed or was cancelled
    EXPIRED = "expired"  # the payment window closed without payment
    REVERSED = "reversed"  # refunded or charged back after it was paid


@dataclass(frozen=True)
class GatewayEvent:
    """One normalised event about one payment.

    The deposit is found by `deposit_id` when the gateway echoes ours (Stripe's
    client_reference_id, BTCPay's orderId), else by `external_id`.  `amount` and
    `currency` are what was paid (PAID) or taken back (REVERSED), in major
    units (Decimal("10.50") USD); None when the gateway does not say.
    `payload` is the raw webhook body or the fetched object as text, kept with
    the deposit's events for audit."""

    kind: EventKind
    event_id: str
    deposit_id: int | None
    external_id: str | None
    amount: Decimal | None
    currency: str | None
    payload: str


@dataclass(frozen=True)
class DepositRef:
    """What a gateway is told about a deposit to create or look up its payment."""

    id: int
    amount: Decimal  # major units of `currency`, at most 2 decimal places
    currency: str
    reference: str  # short and human (e.g. "D-000042"), for transfers and statements
    external_id: str | None  # the gateway's payment id, once it has one
    description: str  # e.g. "Balance top-up for alice on MyPanel"
    return_url: str  # where the customer's browser comes back to (it never credits)
    webhook_url: str  # where the gateway posts its events (for gateways that take it per payment)


@dataclass(frozen=True)
class PaymentStart:
    """A created payment: where to send the customer, or what to tell them."""

    external_id: str | None
    redirect_url: str | None = None
    instructions: str | None = None


@dataclass(frozen=True)
class SettingField:
    """One setting of a gateway (`smmpanel gateways set CODE NAME=VALUE`).
    Secret ones are stored encrypted and never shown back."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: str = ""


class GatewayUnavailable(Exception):
    """The gateway could not be reached, or refused the request; the message
    says why in words safe to show the owner (never a secret)."""


class WebhookRefused(Exception):
    """A webhook that is not the gateway's: a wrong or missing signature, or a
    body that cannot be read.  The panel answers 400 and changes nothing."""


class Gateway(Protocol):
    """A payment gateway plug-in.  `config` holds the gateway's settings by
    field name (secrets decrypted); missing optional ones are absent."""

    code: ClassVar[str]  # e.g. "stripe": lower-case letters, digits and _, at most 32
    title: ClassVar[str]  # what customers see, e.g. "Card (Stripe)"
    fields: ClassVar[tuple[SettingField, ...]]
    # Offered only when the panel runs as a demo (SMMPANEL_DEMO_PAYMENTS).
    demo_only: ClassVar[bool]
    # Whether payments are credited by the owner's approval (manual transfer).
    manual: ClassVar[bool]

    def create_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> PaymentStart:
        """Create the payment at the gateway; GatewayUnavailable when it cannot."""
        ...

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], config: Mapping[str, str]
    ) -> list[GatewayEvent]:
        """Check the signature on the raw body and return its events (none for
        an event type the panel does not act on); WebhookRefused when the
        webhook is not genuine.  It may fetch the payment again before saying
        PAID (GatewayUnavailable when it cannot: the gateway will retry)."""
        ...

    def fetch_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> GatewayEvent | None:
        """The payment's current state, for reconciliation; None when the
        gateway has nothing to say yet (or, like a manual transfer, never does)."""
        ...
