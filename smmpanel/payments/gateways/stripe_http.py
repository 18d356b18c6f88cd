"""The Stripe client's network layer and money units, for stripe_checkout.py.

The official client is given this HTTP client instead of its own (requests)
so that every call to Stripe goes through the panel's outbound guard
(`smmpanel.netguard`) with the panel's timeout, and does not read proxy
settings from the environment.  `api_base` can point the gateway elsewhere
(the tests' fake Stripe), so it is guarded like any URL someone typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import stripe

from smmpanel.netguard import guarded_client

# Stripe's currencies whose smallest unit is the major unit (no cents).
# https://docs.stripe.com/currencies#zero-decimal
# fmt: off
ZERO_DECIMAL = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV",
    "XAF", "XOF", "XPF",
})
# fmt: on
# Currencies taken in cents without Stripe's special rules.  Left out on
# purpose: the three-decimal ones (BHD, JOD, KWD, OMR, TND: the last digit
# must be 0), ISK, HUF, TWD and UGX (sent in cents but charged or paid out in
# whole units): a payment in one of them is refused rather than guessed.
# fmt: off
TWO_DECIMAL = frozenset({
    "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK",
    "RON", "BGN", "MXN", "BRL", "ARS", "COP", "PEN", "INR", "SGD", "HKD", "MYR", "PHP",
    "THB", "IDR", "CNY", "ZAR", "AED", "SAR", "QAR", "ILS", "TRY", "EGP", "NGN", "KES",
    "MAD", "UAH", "GEL", "RSD",
})
# fmt: on


class UnsupportedCurrency(ValueError):
    """A currency this gateway does not take, or an amount it cannot send exactly."""


def exponent(currency: str) -> int:
    """How many decimal places Stripe's integer amounts of `currency` carry."""
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in TWO_DECIMAL:
        return 2
    raise UnsupportedCurrency(f"Stripe payments in {code} are not supported by this gateway")


def to_stripe_amount(amount: Decimal, currency: str) -> int:
    """`amount` (major units) in the currency's smallest unit; refused when it is
    not a whole number of them (e.g. 10.50 JPY) or not positive."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value() or scaled <= 0:
        raise UnsupportedCurrency(f"{amount} {currency.upper()} cannot be charged exactly")
    return int(scaled)


def from_stripe_amount(minor: int, currency: str) -> Decimal:
    """A Stripe integer amount in major units, exactly (Decimal, never float)."""
    return Decimal(int(minor)).scaleb(-exponent(currency))


class GuardedStripeHttp(stripe.HTTPClient):
    """Synchronous requests over the panel's guarded httpx client.

    Network failures become the client's APIConnectionError, as with its own
    clients; the message names the kind of failure, never a header (the key
    travels in one)."""

    name = "smmpanel-httpx"

    def __init__(self, *, timeout: float) -> None:
        super().__init__()
        self._http = guarded_client(timeout=timeout)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        try:
            # content=, not data=: the client hands over the form already encoded.
            response = self._http.request(
                method, url, headers=dict(headers or {}), content=post_data or None
            )
        except httpx.HTTPError as exc:
            raise stripe.APIConnectionError(
                f"could not reach Stripe ({type(exc).__name__})", should_retry=False
            ) from None
        return response.text, response.status_code, response.headers

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        # The gateway only makes plain JSON calls.
        raise NotImplementedError("streamed Stripe requests are not used by the panel")

    def close(self) -> None:
        self._http.close()
