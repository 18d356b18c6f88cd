"""The fake BTCPay Server's invoices: the Greenfield fields the gateway reads,
and BTCPay Server's rules the fake plays by (btcpay_fake.py serves them)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

SATOSHI = Decimal("0.00000001")
DEFAULT_RATE = Decimal("50000")  # invoice-currency units per coin
EXTRA_FIELDS = {  # what BTCPay adds to each webhook type
    "InvoiceSettled": ("manuallyMarked", "overPaid"),
    "InvoiceProcessing": ("overPaid",),
    "InvoiceExpired": ("partiallyPaid",),
    "InvoiceInvalid": ("manuallyMarked",),
}


def new_id() -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(22))


@dataclass
class FakeInvoice:
    """One invoice as the fake keeps it.  `paid` is in coins."""

    id: str
    store_id: str
    amount: Decimal
    currency: str
    metadata: dict[str, Any]
    checkout: dict[str, Any]
    rate: Decimal
    created: int = field(default_factory=lambda: int(time.time()))
    status: str = "New"
    additional_status: str = "None"
    paid: Decimal = Decimal(0)

    @property
    def due_coins(self) -> Decimal:
        return (self.amount / self.rate).quantize(SATOSHI, rounding=ROUND_UP)

    def data(self, base_url: str) -> dict[str, Any]:
        """The Greenfield InvoiceData of this invoice."""
        return {
            "id": self.id,
            "storeId": self.store_id,
            "amount": format(self.amount, "f"),
            "currency": self.currency,
            "type": "Standard",
            "checkoutLink": f"{base_url}/i/{self.id}",
            "createdTime": self.created,
            "expirationTime": self.created + 900,
            "monitoringExpiration": self.created + 3600,
            "status": self.status,
            "additionalStatus": self.additional_status,
            "archived": False,
            "metadata": self.metadata,
            "checkout": self.checkout,
        }

    def payment_methods(self) -> list[dict[str, Any]]:
        """The Greenfield invoice payment methods: one on-chain coin."""
        due = self.due_coins
        payments = (
            [
                {
                    "id": f"{self.id}-tx",
                    "receivedDate": self.created,
                    "value": format(self.paid, "f"),
                    "fee": "0",
                    "status": "Processing" if self.status == "Processing" else "Settled",
                    "destination": "bcrt1qfake",
                }
            ]
            if self.paid
            else []
        )
        return [
            {
                "paymentMethod": "BTC",
                "cryptoCode": "BTC",
                "destination": "bcrt1qfake",
                "paymentLink": f"bitcoin:bcrt1qfake?amount={due}",
                "rate": format(self.rate, "f"),
                "paymentMethodPaid": format(self.paid, "f"),
                "totalPaid": format(self.paid, "f"),
                "due": format(due - self.paid, "f"),
                "amount": format(due, "f"),
                "networkFee": "0",
                "payments": payments,
                "activated": True,
            }
        ]

    def can_mark_invalid(self) -> bool:
        """BTCPay Server's rule for "Mark as invalid" (InvoiceState.CanMarkInvalid):
        a new, processing or expired invoice, or one marked settled by hand."""
        if self.status in ("New", "Processing", "Expired"):
            return True
        return self.status != "Invalid" and self.additional_status == "Marked"

    def webhook_fields(self, kind: str) -> dict[str, bool]:
        """The fields BTCPay Server adds to a webhook of type `kind` about it."""
        due = self.due_coins
        flags = {
            "manuallyMarked": self.additional_status == "Marked",
            "overPaid": self.paid > due,
            "partiallyPaid": Decimal(0) < self.paid < due,
        }
        return {name: flags[name] for name in EXTRA_FIELDS.get(kind, ())}


def invoice_amount(body: Any) -> tuple[Decimal | None, list[dict[str, str]]]:
    """The invoice amount of a create request (a decimal string, as the
    gateway must send it), or the validation problems."""
    value = body.get("amount") if isinstance(body, dict) else None
    try:
        amount = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        return None, [{"path": "amount", "message": "amount must be a positive decimal string"}]
    return amount, []
