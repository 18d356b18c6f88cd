"""BTCPay Server, over its Greenfield API (plain `httpx`, no SDK).

- `create_payment` creates an invoice in the owner's store with the deposit id
  as `metadata.orderId` and sends the customer to its `checkoutLink`.
- `verify_webhook` checks `BTCPay-Sig` (``sha256=`` + the hex HMAC-SHA256 of
  the raw body with the webhook's secret) and, for the invoice events the panel
  acts on, fetches the invoice again: a webhook only says *that* something
  happened; what is credited is what the server says when asked.
- `fetch_payment` is the same look-up, for reconciliation.

How an invoice is read (`invoice_event`):

- ``Settled`` -> PAID.  The amount is the invoice's own when the payment methods
  say it was paid in full (``totalPaid >= amount`` in any method's currency, so
  an overpayment credits the deposit's amount and the rest stays with the
  owner); otherwise the invoice amount times ``totalPaid / amount``, rounded
  down to the cent.  So an invoice settled with less than its amount (the owner
  marked a partly paid one settled, or the store's payment tolerance let it
  through) comes out as a PAID event for less than the deposit, which the
  panel holds for the owner instead of crediting.
- ``Processing`` -> PENDING; ``Expired`` -> EXPIRED (partly paid or not: the
  owner may still mark it settled, which arrives as ``InvoiceSettled``).
- ``Invalid`` -> REVERSED when the owner marked it invalid (``additionalStatus``
  ``Marked``) after money was received (``totalPaid > 0``); otherwise FAILED
  (the server invalidates an invoice whose payment never confirmed in time).
  BTCPay Server lets the owner mark invalid only an invoice that is new,
  processing or expired, or one marked settled by hand: undoing such a
  settlement (after refunding it) is how a reversal reaches the panel.  A
  refund of an invoice the server settled itself changes no invoice state,
  so the panel never hears of it.
- ``New`` -> nothing yet.

Every call goes through the outbound guard (`smmpanel.netguard`), with a
timeout; failures become `GatewayUnavailable` with messages that never hold
the API key (it travels only in the Authorization header).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from smmpanel.netguard import UrlRefused, check_url, current_policy, guarded_client
from smmpanel.payments.gateway import (
    DepositRef,
    EventKind,
    GatewayEvent,
    GatewayUnavailable,
    PaymentStart,
    SettingField,
    WebhookRefused,
)

TIMEOUT_SECONDS = 15.0
SIGNATURE_HEADER = "btcpay-sig"
SIGNATURE_PREFIX = "sha256="
MAX_MESSAGE = 200  # of a server's error message repeated to the owner
CENT = Decimal("0.01")
# In every invoice's metadata: the panel made it.  Other invoices of the same
# store (a shop plug-in's, the point of sale's) may have an orderId too, which
# must not name a deposit by coincidence.
MARKER = ("createdBy", "smmpanel")

# Webhook types the panel acts on (each one makes it fetch the invoice); the
# others (InvoiceCreated, InvoiceReceivedPayment, InvoicePaymentSettled...)
# change nothing a deposit cares about.
ACTED_ON = frozenset({"InvoiceSettled", "InvoiceProcessing", "InvoiceExpired", "InvoiceInvalid"})


class BTCPayServer:
    """The `btcpay` gateway: Bitcoin (and whatever the store accepts) through
    the owner's own BTCPay Server."""

    code: ClassVar[str] = "btcpay"
    title: ClassVar[str] = "Bitcoin (BTCPay Server)"
    fields: ClassVar[tuple[SettingField, ...]] = (
        SettingField("url", "BTCPay Server URL, e.g. https://btcpay.example.com"),
        SettingField("store_id", "Store ID (Store settings > General)"),
        SettingField("api_key", "Greenfield API key (can create and view invoices)", secret=True),
        SettingField("webhook_secret", "Secret of the store's webhook to the panel", secret=True),
    )
    demo_only: ClassVar[bool] = False
    manual: ClassVar[bool] = False

    def create_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> PaymentStart:
        body = {
            "amount": _decimal_text(deposit.amount),
            "currency": deposit.currency,
            "metadata": {
                "orderId": str(deposit.id),
                "reference": deposit.reference,
                "itemDesc": deposit.description,
                MARKER[0]: MARKER[1],
            },
            "checkout": {"redirectURL": deposit.return_url},
        }
        invoice = _object(_call(config, "POST", "/invoices", json_body=body))
        invoice_id, link = invoice.get("id"), invoice.get("checkoutLink")
        if not isinstance(invoice_id, str) or not invoice_id or not isinstance(link, str):
            raise GatewayUnavailable(
                "BTCPay Server answered without an invoice id or checkout link"
            )
        return PaymentStart(external_id=invoice_id, redirect_url=link)

    def verify_webhook(
        self, body: bytes, headers: Mapping[str, str], config: Mapping[str, str]
    ) -> list[GatewayEvent]:
        check_signature(body, headers, config.get("webhook_secret", ""))
        try:
            delivery = json.loads(body)
        except ValueError:
            raise WebhookRefused("the body is not JSON") from None
        if not isinstance(delivery, dict):
            raise WebhookRefused("the body is not a JSON object")
        kind, invoice_id = delivery.get("type"), delivery.get("invoiceId")
        if not isinstance(kind, str) or kind not in ACTED_ON:
            return []
        if not isinstance(invoice_id, str) or not invoice_id:
            return []
        # A webhook of another store signed with the same secret: not ours to act on.
        if delivery.get("storeId") not in (None, config.get("store_id", "").strip()):
            return []
        # Redeliveries of one event share the first delivery's id.
        event_id = str(delivery.get("originalDeliveryId") or delivery.get("deliveryId") or "")[:200]
        event = _look_up(
            config,
            invoice_id,
            event_id=event_id or f"{kind}:{invoice_id}",
            webhook=body.decode("utf-8", "replace"),
        )
        return [] if event is None else [event]

    def fetch_payment(self, deposit: DepositRef, config: Mapping[str, str]) -> GatewayEvent | None:
        if not deposit.external_id:
            return None  # the invoice was never created: nothing to ask about
        return _look_up(config, deposit.external_id, event_id=None, webhook=None)


# --- signatures ----------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The `BTCPay-Sig` header value of `body` (as BTCPay Server computes it)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def check_signature(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """WebhookRefused unless `headers` carry `body`'s signature with `secret`."""
    if not secret:
        raise WebhookRefused("the BTCPay webhook secret is not set")
    given = _header(headers, SIGNATURE_HEADER)
    if not given:
        raise WebhookRefused("no BTCPay-Sig header")
    expected = sign(body, secret).encode("ascii")
    # Compared as bytes, in constant time (a str with non-ASCII would raise).
    if not hmac.compare_digest(expected, given.strip().encode("utf-8", "replace")):
        raise WebhookRefused("wrong BTCPay-Sig signature")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (the mapping may be a plain dict)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


# --- reading invoices -------------------------------------------------------------------


def _look_up(
    config: Mapping[str, str], invoice_id: str, *, event_id: str | None, webhook: str | None
) -> GatewayEvent | None:
    path = f"/invoices/{quote(invoice_id, safe='')}"
    invoice = _object(_call(config, "GET", path))
    methods: Any = []
    if invoice.get("status") in ("Settled", "Invalid"):
        methods = _call(config, "GET", f"{path}/payment-methods")
    return invoice_event(invoice, methods, event_id=event_id, webhook=webhook)


def invoice_event(
    invoice: Mapping[str, Any], methods: Any, *, event_id: str | None, webhook: str | None = None
) -> GatewayEvent | None:
    """The event a fetched invoice (and its payment methods) stands for, or None
    while it is new (module docstring: how each status is read).  Its payload,
    kept for audit, holds the webhook's raw body (if any) and what was fetched."""
    status = invoice.get("status")
    kind = {
        "Processing": EventKind.PENDING,
        "Expired": EventKind.EXPIRED,
        "Settled": EventKind.PAID,
    }.get(str(status))
    if status == "Invalid":
        marked = invoice.get("additionalStatus") == "Marked"
        kind = EventKind.REVERSED if marked and paid_fraction(methods) > 0 else EventKind.FAILED
    if kind is None:
        return None
    invoice_id = str(invoice.get("id") or "")
    amount = currency = None
    if kind in (EventKind.PAID, EventKind.REVERSED):
        amount = paid_amount(_amount(invoice.get("amount")), paid_fraction(methods))
        currency = str(invoice.get("currency") or "").upper() or None
    return GatewayEvent(
        kind=kind,
        event_id=event_id or f"invoice:{invoice_id}:{status}",
        deposit_id=_deposit_id(invoice.get("metadata")),
        external_id=invoice_id or None,
        amount=amount,
        currency=currency,
        payload=json.dumps(
            {"webhook": webhook, "invoice": invoice, "paymentMethods": methods}, sort_keys=True
        ),
    )


def paid_fraction(methods: Any) -> Decimal:
    """How much of the invoice was paid, 1 meaning in full (capped there): the
    best `totalPaid / amount` of its payment methods (each counts every
    payment, converted into its own currency)."""
    best = Decimal(0)
    for method in methods if isinstance(methods, list) else []:
        if not isinstance(method, dict):
            continue
        due, paid = _amount(method.get("amount")), _amount(method.get("totalPaid"))
        if due is not None and paid is not None and due > 0:
            best = max(best, paid / due)
    return min(best, Decimal(1))


def paid_amount(amount: Decimal | None, fraction: Decimal) -> Decimal | None:
    """The invoice amount paid, in its currency: exact when paid in full, else
    rounded down to the cent (so it can never round up to a full payment)."""
    if amount is None:
        return None
    if fraction >= 1:
        return amount
    return (amount * fraction).quantize(CENT, rounding=ROUND_DOWN)


def _amount(value: Any) -> Decimal | None:
    """A Greenfield amount (a decimal string; never read through float)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _deposit_id(metadata: Any) -> int | None:
    """The deposit an invoice names, when the panel made it (MARKER); else None,
    and the deposit is found by the invoice id."""
    if not isinstance(metadata, dict) or metadata.get(MARKER[0]) != MARKER[1]:
        return None
    order_id = metadata.get("orderId")
    text = str(order_id) if isinstance(order_id, str | int) else ""
    return int(text) if text.isdigit() and len(text) < 19 else None


def _decimal_text(amount: Decimal) -> str:
    """`amount` as Greenfield takes it: a plain decimal string, never 1E+1."""
    return format(amount, "f")


# --- the HTTP calls ---------------------------------------------------------------------


def _call(config: Mapping[str, str], method: str, path: str, *, json_body: Any = None) -> Any:
    """One Greenfield call on the configured store; its JSON answer."""
    base, store, key = (config.get(name, "").strip() for name in ("url", "store_id", "api_key"))
    if not base or not store or not key:
        raise GatewayUnavailable("BTCPay Server is not configured (url, store_id, api_key)")
    url = f"{base.rstrip('/')}/api/v1/stores/{quote(store, safe='')}{path}"
    try:
        return _request(method, url, key, json_body)
    except GatewayUnavailable as exc:
        # Whatever the words (a server's own, httpx's), never the key in them.
        raise GatewayUnavailable(str(exc).replace(key, "[api key]")) from None


def _request(method: str, url: str, key: str, json_body: Any) -> Any:
    try:
        check_url(url, current_policy())
    except UrlRefused as exc:
        raise GatewayUnavailable(f"the BTCPay Server URL is refused: {exc}") from None
    headers = {"Authorization": f"token {key}", "Accept": "application/json"}
    try:
        with guarded_client(timeout=TIMEOUT_SECONDS) as http:
            response = http.request(method, url, headers=headers, json=json_body)
    except httpx.TimeoutException:
        raise GatewayUnavailable("BTCPay Server did not answer in time") from None
    except httpx.HTTPError as exc:
        raise GatewayUnavailable(f"cannot reach BTCPay Server: {exc}") from None
    if response.status_code >= 300:
        raise GatewayUnavailable(_refusal(response))
    try:
        return response.json()
    except ValueError:
        raise GatewayUnavailable("BTCPay Server answered with something that is not JSON") from None


def _object(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise GatewayUnavailable("BTCPay Server answered with something that is not an invoice")
    return answer


def _refusal(response: httpx.Response) -> str:
    """Why the server refused, in words for the owner."""
    code = response.status_code
    if code in (401, 403):
        return (
            f"BTCPay Server refused the API key (HTTP {code}): it needs the permissions "
            "to create and view the store's invoices"
        )
    if code == 404:
        return "BTCPay Server knows no such store or invoice (HTTP 404)"
    message = ""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("message"), str):
        message = answer["message"]
    elif isinstance(answer, list):  # validation errors: [{"path": ..., "message": ...}]
        message = "; ".join(str(item.get("message")) for item in answer if isinstance(item, dict))
    detail = f": {message[:MAX_MESSAGE]}" if message else ""
    return f"BTCPay Server answered HTTP {code}{detail}"
