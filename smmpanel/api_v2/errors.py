"""Domain errors -> the exact API v2 error messages clients match on (docs/api.md)."""

from __future__ import annotations

from smmpanel.accounts.errors import InvalidApiKey
from smmpanel.catalog.errors import ServiceNotFound
from smmpanel.errors import DomainError
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.orders import errors as order_errors

INVALID_KEY = "Invalid API key"
INCORRECT_REQUEST = "Incorrect request"
INCORRECT_ORDER = "Incorrect order ID"
TOO_MANY_IDS = "Too many IDs (max 100)"


class RequestError(DomainError):
    """Malformed parameters found at the edge."""


class TooManyIds(DomainError):
    pass


# Errors whose message is already the exact string of docs/api.md.
_OWN_MESSAGE: tuple[type[DomainError], ...] = (
    order_errors.QuantityTooLow,
    order_errors.QuantityTooHigh,
)
_FIXED: dict[type[DomainError], str] = {
    InvalidApiKey: INVALID_KEY,
    TooManyIds: TOO_MANY_IDS,
    ServiceNotFound: "Incorrect service ID",
    InsufficientFunds: "Not enough funds on balance",
    order_errors.ActiveOrderExists: (
        "You have active order with this link. Please wait until order being completed."
    ),
    order_errors.InvalidLink: "Incorrect link",
    order_errors.OrderNotFound: INCORRECT_ORDER,
    order_errors.RefillNotFound: "Refill not found",
    order_errors.CancelNotFound: "Cancel not found",
    order_errors.RefillDisabled: "Refill is disabled for this service",
    order_errors.CancelDisabled: "Cancel is disabled for this service",
    order_errors.NotEligibleForRefill: "Order not eligible for refill",
    order_errors.NotEligibleForCancel: "Order not eligible for cancel",
    order_errors.RefillAlreadyRequested: "Refill request was sent earlier",
    order_errors.CancelAlreadyRequested: "Cancellation request was sent earlier",
    order_errors.IdempotencyConflict: "Request ID already used with different parameters",
}


def error_body(exc: DomainError) -> dict[str, str]:
    """The JSON answer for a refused request: {"error": message} and, for
    malformed parameters, a "detail" saying which one (clients match on
    "error", so the documented string stays exact)."""
    if isinstance(exc, _OWN_MESSAGE):
        return {"error": str(exc)}
    for kind, message in _FIXED.items():
        if isinstance(exc, kind):
            return {"error": message}
    return {"error": INCORRECT_REQUEST, "detail": str(exc)}


def error_message(exc: DomainError) -> str:
    return error_body(exc)["error"]
