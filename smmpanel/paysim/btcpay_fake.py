"""A fake BTCPay Server: the part of the Greenfield API the panel's gateway
calls, and a control object that plays the server's side of a payment and
sends its webhooks, signed as BTCPay Server signs them.

    with running_fake_btcpay() as btcpay:
        config = btcpay.config()            # url, store_id, api_key, webhook_secret
        ...                                 # the panel creates an invoice
        invoice_id = btcpay.last_invoice_id()
        btcpay.settle(invoice_id)                       # paid in full, confirmed
        btcpay.deliver(hook_url, "InvoiceSettled", invoice_id)          # one webhook
        btcpay.deliver(hook_url, "InvoiceSettled", invoice_id, times=10)  # concurrently
        btcpay.deliver(hook_url, "InvoiceSettled", invoice_id, secret="wrong")
        btcpay.settle(other_id, paid=Decimal("7.50"))   # underpaid, marked settled by hand
        btcpay.settle(late_id, marked=True)             # paid late, marked settled by hand
        btcpay.invalidate(late_id)                      # then marked invalid: a reversal

Events are sent in whatever order the test calls `deliver`, so out-of-order
deliveries are just calls in another order.  Amounts are Decimal, in the
invoice's currency; the fake's coin is priced at `rate` units of it.

Served endpoints (``Authorization: token KEY`` checked on each):
``POST /api/v1/stores/{store}/invoices``, ``GET .../invoices/{id}``,
``GET .../invoices/{id}/payment-methods``; and ``GET /i/{id}``, a checkout page.
Like the provider simulator it imports nothing of the panel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from smmpanel.paysim.btcpay_invoices import (
    DEFAULT_RATE,
    SATOSHI,
    FakeInvoice,
    invoice_amount,
    new_id,
)
from smmpanel.paysim.serving import serve_in_thread

__all__ = ["Delivery", "FakeBTCPay", "FakeInvoice", "running_fake_btcpay"]


@dataclass(frozen=True)
class Delivery:
    """A webhook the fake sent, and what the receiver answered (None: no answer)."""

    delivery_id: str
    type: str
    invoice_id: str
    status_code: int | None


class FakeBTCPay:
    """The fake server's state and its control: tests call these methods."""

    def __init__(
        self,
        *,
        store_id: str = "FakeStore1",
        api_key: str = "fake-btcpay-api-key-0123456789",
        webhook_secret: str = "fake-btcpay-webhook-secret",
        rate: Decimal = DEFAULT_RATE,
    ) -> None:
        self.url = ""  # set once served
        self.store_id = store_id
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_id = "Wh" + new_id()[:20]
        self.rate = rate
        self.invoices: dict[str, FakeInvoice] = {}
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, JSON body)
        self.deliveries: list[Delivery] = []
        self.outage = False  # True: every API call answers 503
        self.delay = 0.0  # seconds every API call waits before answering
        self._lock = threading.Lock()

    def config(self) -> dict[str, str]:
        """The gateway settings that point the panel at this fake."""
        return {
            "url": self.url,
            "store_id": self.store_id,
            "api_key": self.api_key,
            "webhook_secret": self.webhook_secret,
        }

    # --- the server's side of a payment -------------------------------------------------

    def last_invoice_id(self) -> str:
        with self._lock:
            return list(self.invoices)[-1]

    def invoice(self, invoice_id: str) -> FakeInvoice:
        with self._lock:
            return self.invoices[invoice_id]

    def process(self, invoice_id: str) -> None:
        """Paid in full, not yet confirmed."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice.paid, invoice.status = invoice.due_coins, "Processing"

    def settle(
        self, invoice_id: str, *, paid: Decimal | None = None, marked: bool | None = None
    ) -> None:
        """Settled: paid in full (`paid` None), or with `paid` (in the invoice's
        currency).  Less than due can only be settled by the owner marking it
        so by hand, which `marked=True` does for any amount (e.g. a payment that
        came after the invoice expired)."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice.paid = self._coins(invoice, paid)
            invoice.status = "Settled"
            if marked or (marked is None and invoice.paid < invoice.due_coins):
                invoice.additional_status = "Marked"
            elif invoice.paid > invoice.due_coins:
                invoice.additional_status = "PaidOver"
            else:
                invoice.additional_status = "None"

    def expire(self, invoice_id: str, *, paid: Decimal = Decimal(0)) -> None:
        """Expired, unpaid or partly paid (`paid` in the invoice's currency)."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice.paid = self._coins(invoice, paid)
            invoice.status = "Expired"
            invoice.additional_status = "PaidPartial" if invoice.paid else "None"

    def invalidate(self, invoice_id: str, *, marked: bool = True) -> None:
        """Invalid: marked so by the owner, or (`marked=False`) by the server
        when a payment never confirmed.  As BTCPay Server does, the owner can
        mark invalid only an invoice that is new, processing or expired, or one
        marked settled by hand (undoing it, e.g. after a refund): never one the
        server settled itself (ValueError)."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            if marked and not invoice.can_mark_invalid():
                raise ValueError(
                    f"BTCPay Server cannot mark a {invoice.status} invoice invalid "
                    f"(additional status {invoice.additional_status})"
                )
            invoice.status = "Invalid"
            invoice.additional_status = "Marked" if marked else "None"

    def set_status(self, invoice_id: str, status: str, additional: str = "None") -> None:
        """Any status, whatever was paid (e.g. a webhook the server then contradicts)."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice.status, invoice.additional_status = status, additional

    def _coins(self, invoice: FakeInvoice, paid: Decimal | None) -> Decimal:
        if paid is None:
            return invoice.due_coins
        return (paid / invoice.rate).quantize(SATOSHI, rounding=ROUND_DOWN)

    # --- webhooks ---------------------------------------------------------------------------

    def webhook_body(
        self,
        kind: str,
        invoice_id: str,
        *,
        delivery_id: str | None = None,
        original_id: str | None = None,
    ) -> bytes:
        """The JSON body BTCPay Server would post for event `kind` of the invoice now."""
        with self._lock:
            invoice = self.invoices.get(invoice_id)
            metadata = dict(invoice.metadata) if invoice else {}
            extra = invoice.webhook_fields(kind) if invoice else {}
        delivery = delivery_id or new_id()
        payload: dict[str, Any] = {
            "deliveryId": delivery,
            "webhookId": self.webhook_id,
            "originalDeliveryId": original_id or delivery,
            "isRedelivery": original_id is not None and original_id != delivery,
            "type": kind,
            "timestamp": int(time.time()),
            "storeId": self.store_id,
            "invoiceId": invoice_id,
            "metadata": metadata,
        }
        payload.update(extra)
        return json.dumps(payload).encode("utf-8")

    def signature(self, body: bytes, secret: str | None = None) -> str:
        key = (self.webhook_secret if secret is None else secret).encode("utf-8")
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    def deliver(
        self,
        url: str,
        kind: str,
        invoice_id: str,
        *,
        times: int = 1,
        redelivery: bool = False,
        secret: str | None = None,
        signed: bool = True,
        body: bytes | None = None,
    ) -> list[Delivery]:
        """Post webhook `kind` about the invoice to `url`, `times` times at once:
        the same bytes each time, or (`redelivery`) as BTCPay's redeliveries
        (new deliveryId, the first one's originalDeliveryId).  `secret` signs
        with another secret, `signed=False` sends no signature, `body` replaces
        the body (signed as given)."""
        first = new_id()
        bodies = [
            body
            or self.webhook_body(
                kind,
                invoice_id,
                delivery_id=new_id() if redelivery and n else first,
                original_id=first,
            )
            for n in range(times)
        ]
        start = threading.Barrier(times)

        def post(payload: bytes) -> Delivery:
            headers = {"Content-Type": "application/json", "User-Agent": "BTCPayServer"}
            if signed:
                headers["BTCPay-Sig"] = self.signature(payload, secret)
            sent_id = _delivery_id(payload)
            start.wait(timeout=30)
            try:
                with httpx.Client(timeout=30) as http:
                    code: int | None = http.post(url, content=payload, headers=headers).status_code
            except httpx.HTTPError:
                code = None
            return Delivery(sent_id, kind, invoice_id, code)

        with ThreadPoolExecutor(max_workers=times) as pool:
            sent = list(pool.map(post, bodies))
        with self._lock:
            self.deliveries.extend(sent)
        return sent

    # --- the HTTP side ------------------------------------------------------------------------

    def app(self) -> Starlette:
        prefix = "/api/v1/stores/{store_id}/invoices"
        return Starlette(
            routes=[
                Route(prefix, self._create, methods=["POST"]),
                Route(prefix + "/{invoice_id}", self._get, methods=["GET"]),
                Route(prefix + "/{invoice_id}/payment-methods", self._methods, methods=["GET"]),
                Route("/i/{invoice_id}", self._checkout_page, methods=["GET"]),
            ]
        )

    async def _slow(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)

    def _refused(self, request: Request) -> Response | None:
        if self.outage:
            return _error(503, "service-unavailable", "The server is down for maintenance")
        if request.headers.get("authorization") != f"token {self.api_key}":
            return _error(401, "unauthenticated", "Authentication is required")
        if request.path_params["store_id"] != self.store_id:
            return _error(403, "unauthorized", "The API key has no permission on this store")
        return None

    async def _create(self, request: Request) -> Response:
        await self._slow()
        if (refused := self._refused(request)) is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "invalid-json", "The request body is not JSON")
        self.requests.append(("POST", request.url.path, body))
        amount, problems = invoice_amount(body)
        currency = body.get("currency") if isinstance(body, dict) else None
        if not isinstance(currency, str) or not currency:
            problems.append({"path": "currency", "message": "currency is required"})
        if problems or amount is None or not isinstance(currency, str):
            return JSONResponse(problems, status_code=422)
        invoice = FakeInvoice(
            id=new_id(),
            store_id=self.store_id,
            amount=amount,
            currency=currency.upper(),
            metadata=dict(body.get("metadata") or {}),
            checkout=dict(body.get("checkout") or {}),
            rate=self.rate,
        )
        with self._lock:
            self.invoices[invoice.id] = invoice
        return JSONResponse(invoice.data(self._base(request)))

    async def _get(self, request: Request) -> Response:
        await self._slow()
        if (refused := self._refused(request)) is not None:
            return refused
        self.requests.append(("GET", request.url.path, None))
        with self._lock:
            invoice = self.invoices.get(request.path_params["invoice_id"])
            data = invoice.data(self._base(request)) if invoice else None
        if data is None:
            return _error(404, "invoice-not-found", "The invoice was not found")
        return JSONResponse(data)

    async def _methods(self, request: Request) -> Response:
        await self._slow()
        if (refused := self._refused(request)) is not None:
            return refused
        self.requests.append(("GET", request.url.path, None))
        with self._lock:
            invoice = self.invoices.get(request.path_params["invoice_id"])
            methods = invoice.payment_methods() if invoice else None
        if methods is None:
            return _error(404, "invoice-not-found", "The invoice was not found")
        return JSONResponse(methods)

    async def _checkout_page(self, request: Request) -> Response:
        with self._lock:
            invoice = self.invoices.get(request.path_params["invoice_id"])
        if invoice is None:
            return HTMLResponse("<h1>Invoice not found</h1>", status_code=404)
        return HTMLResponse(
            f"<h1>Pay {invoice.amount} {invoice.currency}</h1><p>Status: {invoice.status}</p>"
        )

    def _base(self, request: Request) -> str:
        return self.url or str(request.base_url).rstrip("/")


def _delivery_id(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("deliveryId", "")) if isinstance(data, dict) else ""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


@contextlib.contextmanager
def running_fake_btcpay(**options: Any) -> Iterator[FakeBTCPay]:
    """A `FakeBTCPay` served on loopback for the length of the block; options
    go to `FakeBTCPay` (store_id, api_key, webhook_secret, rate)."""
    fake = FakeBTCPay(**options)
    with serve_in_thread(fake.app(), name="fake-btcpay") as url:
        fake.url = url
        yield fake
