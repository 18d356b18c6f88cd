"""A fake Stripe on loopback: the Checkout Session endpoints the official
`stripe` client calls, and Stripe's signed webhooks, sent when a test says so.

    with running_fake_stripe() as fake:
        # Point the gateway at it: secret_key=fake.api_key,
        # webhook_secret=fake.webhook_secret, api_base=fake.base_url.
        session = fake.control.sessions()[0]          # what the panel created
        event = fake.control.complete(session["id"])  # the customer paid
        fake.control.send(event, webhook_url)         # one signed webhook
        fake.control.send(event, webhook_url, times=10)             # 10 at once
        fake.control.send(event, webhook_url, signature="wrong")    # refused
        fake.control.send_in_order([late, early], webhook_url)      # out of order
        fake.control.refund(session["id"])            # reversed after it was paid
        fake.control.slow_down(3)                     # every API answer waits 3 s

    Also: complete(id, paid=False) (a bank debit still processing), then
    succeed_async(id) or fail_async(id); complete(id, amount_total=500) or
    currency="eur" (paid something else); expire(id); dispute(id);
    forge(type, obj) (an event that the API contradicts); sign(body).

The API (form-encoded requests, JSON answers shaped like Stripe's, only the
fields the gateway reads plus `id` and `object`):

- POST /v1/checkout/sessions            create a session (mode=payment, one line item)
- GET  /v1/checkout/sessions/{id}       retrieve it
- GET  /v1/checkout/sessions?payment_intent=pi_...   list by payment intent
- GET  /v1/events/{id}                  an event the fake made
- GET  /c/pay/{id}                      a stand-in for the hosted payment page

Every API call must carry `Authorization: Bearer <api_key>` (401 otherwise).
State changes happen only through `FakeStripeControl` (in-process), each
returning the event Stripe would send; nothing is sent until `send` is called,
so a test chooses how often, in which order and how signed.  Like the
provider simulator, this module imports nothing of the panel.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple

import httpx

from smmpanel.paysim.serving import serve_in_thread
from smmpanel.paysim.stripe_api import API_VERSION, FakeStripeState, create_app, new_id

Signature = Literal["valid", "wrong", "missing", "stale"]


# --- the control ------------------------------------------------------------------------


class FakeStripeControl:
    """What happens at Stripe, as methods: each state change returns the event
    Stripe would send (also kept for GET /v1/events/{id}); `send` delivers it."""

    def __init__(self, state: FakeStripeState) -> None:
        self.state = state

    # reading

    def sessions(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(list(self.state.sessions.values()))

    def session(self, session_id: str) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.state.sessions[session_id])

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every API call so far."""
        with self.state.lock:
            return list(self.state.requests)

    def slow_down(self, seconds: float) -> None:
        """Make every API answer wait `seconds` (0: answer at once again)."""
        self.state.delay = seconds

    # what the customer, the bank or the owner does at Stripe

    def complete(
        self,
        session_id: str,
        *,
        paid: bool = True,
        amount_total: int | None = None,
        currency: str | None = None,
    ) -> dict[str, Any]:
        """The customer finished the Checkout page: paid (a card), or not yet
        (`paid=False`: an asynchronous method such as a bank debit).  `amount_total`
        and `currency` change what was paid (an underpayment, another currency)."""
        with self.state.lock:
            session = self.state.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            intent = new_id("pi")
            session.update(status="complete", payment_intent=intent)
            session["payment_status"] = "paid" if paid else "unpaid"
            if amount_total is not None:
                session["amount_total"] = amount_total
            if currency is not None:
                session["currency"] = currency
            self.state.charges[intent] = {
                "id": new_id("ch"),
                "object": "charge",
                "payment_intent": intent,
                "amount": session["amount_total"],
                "amount_refunded": 0,
                "currency": session["currency"],
                "refunded": False,
                "paid": paid,
            }
            return self._event("checkout.session.completed", session)

    def succeed_async(self, session_id: str) -> dict[str, Any]:
        """The asynchronous payment of a completed session went through."""
        with self.state.lock:
            session = self._completed(session_id)
            session["payment_status"] = "paid"
            self.state.charges[session["payment_intent"]]["paid"] = True
            return self._event("checkout.session.async_payment_succeeded", session)

    def fail_async(self, session_id: str) -> dict[str, Any]:
        """The asynchronous payment of a completed session failed."""
        with self.state.lock:
            return self._event("checkout.session.async_payment_failed", self._completed(session_id))

    def expire(self, session_id: str) -> dict[str, Any]:
        """The session's window closed unpaid."""
        with self.state.lock:
            session = self.state.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            session["status"] = "expired"
            return self._event("checkout.session.expired", session)

    def refund(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        """The owner refunded the payment (all of it by default) from Stripe's dashboard."""
        with self.state.lock:
            charge = self._charge(session_id)
            charge["amount_refunded"] += charge["amount"] if amount is None else amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            return self._event("charge.refunded", charge)

    def dispute(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        """The cardholder's bank opened a dispute (a chargeback)."""
        with self.state.lock:
            charge = self._charge(session_id)
            dispute = {
                "id": new_id("dp"),
                "object": "dispute",
                "charge": charge["id"],
                "payment_intent": charge["payment_intent"],
                "amount": charge["amount"] if amount is None else amount,
                "currency": charge["currency"],
                "status": "needs_response",
                "reason": "fraudulent",
            }
            return self._event("charge.dispute.created", dispute)

    def forge(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event about `obj` as given, changing nothing at the fake: e.g. a
        `checkout.session.completed` saying "paid" while the API says unpaid."""
        with self.state.lock:
            return self._event(event_type, obj)

    # webhooks

    def sign(self, body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
        """The Stripe-Signature header of `body`, as Stripe signs it."""
        stamp = int(time.time()) if timestamp is None else timestamp
        key = (secret or self.state.webhook_secret).encode()
        digest = hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    def send(
        self,
        event: dict[str, Any],
        url: str,
        *,
        times: int = 1,
        signature: Signature = "valid",
    ) -> list[httpx.Response]:
        """POST the event to `url` `times` times at once (duplicates race each
        other), signed: "valid", "wrong" (another secret), "missing" (no
        header) or "stale" (a valid signature ten minutes old)."""
        body = json.dumps(event, indent=2).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        headers["User-Agent"] = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        if signature == "wrong":
            headers["Stripe-Signature"] = self.sign(body, secret="whsec_" + secrets.token_hex(16))
        elif signature == "stale":
            headers["Stripe-Signature"] = self.sign(body, timestamp=int(time.time()) - 600)
        elif signature == "valid":
            headers["Stripe-Signature"] = self.sign(body)
        if times == 1:
            return [_post(url, body, headers, None)]
        start = threading.Barrier(times)
        with ThreadPoolExecutor(max_workers=times) as pool:
            futures = [pool.submit(_post, url, body, headers, start) for _ in range(times)]
            return [future.result() for future in futures]

    def send_in_order(self, events: Sequence[dict[str, Any]], url: str) -> list[httpx.Response]:
        """POST the events one after another, in the order given (e.g. a late
        event before an earlier one)."""
        return [self.send(event, url)[0] for event in events]

    # helpers, under the lock

    def _completed(self, session_id: str) -> dict[str, Any]:
        session = self.state.sessions[session_id]
        if session["status"] != "complete":
            raise ValueError(f"session {session_id} is {session['status']}, not complete")
        return session

    def _charge(self, session_id: str) -> dict[str, Any]:
        intent = self._completed(session_id)["payment_intent"]
        return self.state.charges[intent]

    def _event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        event_id = new_id("evt")
        event: dict[str, Any] = {
            "id": event_id,
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.state.events[event_id] = event
        return copy.deepcopy(event)


def _post(
    url: str, body: bytes, headers: dict[str, str], start: threading.Barrier | None
) -> httpx.Response:
    if start is not None:
        start.wait(timeout=30)
    return httpx.post(url, content=body, headers=headers, timeout=60)


class RunningFakeStripe(NamedTuple):
    base_url: str  # http://127.0.0.1:PORT: the gateway's api_base
    api_key: str  # the gateway's secret_key
    webhook_secret: str  # the gateway's webhook_secret
    control: FakeStripeControl


@contextlib.contextmanager
def running_fake_stripe(
    *, api_key: str | None = None, webhook_secret: str | None = None
) -> Iterator[RunningFakeStripe]:
    """Serve a fake Stripe on a free loopback port until the block ends."""
    state = FakeStripeState(
        api_key or "sk_test_" + secrets.token_hex(16),
        webhook_secret or "whsec_" + secrets.token_hex(16),
    )
    with serve_in_thread(create_app(state), name="fake-stripe") as url:
        yield RunningFakeStripe(url, state.api_key, state.webhook_secret, FakeStripeControl(state))
