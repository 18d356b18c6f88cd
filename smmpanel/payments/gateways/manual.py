"""Manual transfer: the customer is shown the owner's instructions (bank
details) with the deposit's reference and amount, pays by hand, and the owner
credits it with `smmpanel deposits approve ID` (or rejects it).  No webhook is
ever genuine, and there is nothing to look up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from smmpanel.payments.gateway import (
    DepositRef,
    GatewayEvent,
    PaymentStart,
    SettingField,
    WebhookRefused,
)


class ManualTransfer:
    code: ClassVar[str] = "manual"
    title: ClassVar[str] = "Bank transfer"
    fields: ClassVar[tuple[SettingField, ...]] = (
        SettingField("instructions", "What customers must do: bank details, account name, ..."),
    )
    demo_only: ClassVar[bool] = False
    manual: ClassVar[bool] = True

    def create_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> PaymentStart:
        instructions = config.get("instructions", "").strip()
        amount = f"{deposit.amount:.2f} {deposit.currency}"
        text = (
            f"{instructions}\n\nAmount: {amount}\n"
            f"Reference: {deposit.reference} (write it in the transfer's description, so "
            "that the payment can be matched to your deposit)"
        )
        return PaymentStart(external_id=None, instructions=text.strip())

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], config: Mapping[str, str]
    ) -> list[GatewayEvent]:
        raise WebhookRefused("manual transfers are approved by the owner, never by a webhook")

    def fetch_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> GatewayEvent | None:
        return None
