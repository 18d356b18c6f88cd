"""Normalise what panels of the reseller API v2 answer, whatever their dialect.

Plain functions, reused by the SDK and by the panel's upstream relay:

- value level: :func:`parse_decimal`, :func:`parse_int`, :func:`parse_optional_int`,
  :func:`parse_bool`, :func:`order_status`, :func:`refill_status`,
  :func:`cancel_status`, :func:`service_type`;
- errors: :func:`error_code` (message or untranslated key -> normalised code),
  :func:`error_message`, :func:`error_details` and :func:`answer_error`;
- whole answers: :func:`parse_services`, :func:`parse_placed_order`,
  :func:`parse_balance` and, per id, :func:`parse_order_statuses`,
  :func:`parse_refills`, :func:`parse_refill_statuses`, :func:`parse_cancels`,
  :func:`parse_cancel_statuses` (see :mod:`smmpanel.client.answers`).

Value-level functions raise :class:`ValueError` for what they cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from .models import CancelStatus, ItemError, OrderStatus, RefillStatus, ServiceType

__all__ = [
    "ERROR_CODES",
    "ID_ERROR_CODES",
    "answer_error",
    "cancel_status",
    "clean_key",
    "error_code",
    "error_details",
    "error_message",
    "make_error",
    "order_status",
    "parse_balance",
    "parse_bool",
    "parse_cancel_statuses",
    "parse_cancels",
    "parse_decimal",
    "parse_id",
    "parse_int",
    "parse_optional_decimal",
    "parse_optional_int",
    "parse_order_statuses",
    "parse_placed_order",
    "parse_refill_statuses",
    "parse_refills",
    "parse_service",
    "parse_services",
    "refill_status",
    "service_type",
]

#: Every code :func:`error_code` can return, plus the two the SDK gives per id
#: (``missing``: the panel's answer has nothing for this id; ``unreadable``:
#: what it has for this id cannot be read).
ERROR_CODES = (
    "invalid_key",
    "incorrect_request",
    "incorrect_service",
    "incorrect_link",
    "incorrect_order",
    "quantity_too_low",
    "quantity_too_high",
    "not_enough_funds",
    "active_order_exists",
    "refill_disabled",
    "cancel_disabled",
    "not_eligible",
    "already_requested",
    "too_many_ids",
    "refill_not_found",
    "cancel_not_found",
    "rate_limited",
    "request_id_conflict",
    "unknown",
    "missing",
    "unreadable",
)

#: Codes that concern one id rather than the whole call.
ID_ERROR_CODES = frozenset(
    {
        "incorrect_order",
        "refill_not_found",
        "cancel_not_found",
        "refill_disabled",
        "cancel_disabled",
        "not_eligible",
        "already_requested",
    }
)

_UNKNOWN_WORDS = frozenset({"", "unknown", "null", "none", "n/a", "na", "-", "?"})
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})
_INT_RE = re.compile(r"[+-]?\d+")


# -- numbers and booleans ----------------------------------------------------


def parse_decimal(value: object) -> Decimal:
    """``"0.27819"``, ``0.27819`` (parsed as Decimal), ``1`` -> ``Decimal``.

    Surrounding whitespace is ignored; booleans, NaN, infinities and strings
    with thousands separators are refused (a guess there would be a money bug).
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def parse_int(value: object) -> int:
    """``"3572"``, ``3572``, ``"3572.0"``, ``" 42 "`` -> ``int``."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def parse_optional_int(value: object) -> int | None:
    """Like :func:`parse_int`, but ``None``, ``""`` and ``"Unknown"`` give ``None``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _UNKNOWN_WORDS):
        return None
    return parse_int(value)


def parse_optional_decimal(value: object) -> Decimal | None:
    """Like :func:`parse_decimal`, but ``None``, ``""`` and ``"Unknown"`` give ``None``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _UNKNOWN_WORDS):
        return None
    return parse_decimal(value)


def parse_id(value: object) -> int:
    """A positive integer id, given as a number or a string."""
    result = parse_int(value)
    if result <= 0:
        raise ValueError(f"not an id: {value!r}")
    return result


def parse_bool(value: object) -> bool:
    """``true``/``1``/``"1"``/``"true"``/``"yes"`` and their opposites; ``None`` is False."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"not a boolean: {value!r}")


# -- statuses and types ------------------------------------------------------


def _word(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a status: {value!r}")
    return re.sub(r"[\s_\-]+", "", value.lower())


_ORDER_STATUSES = {
    "pending": OrderStatus.PENDING,
    "inprogress": OrderStatus.IN_PROGRESS,
    "processing": OrderStatus.PROCESSING,
    "completed": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "partial": OrderStatus.PARTIAL,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "refunded": OrderStatus.CANCELED,
}
_REFILL_STATUSES = {
    "pending": RefillStatus.PENDING,
    "inprogress": RefillStatus.IN_PROGRESS,
    "processing": RefillStatus.IN_PROGRESS,
    "completed": RefillStatus.COMPLETED,
    "complete": RefillStatus.COMPLETED,
    "rejected": RefillStatus.REJECTED,
    "error": RefillStatus.ERROR,
    "failed": RefillStatus.ERROR,
}
_CANCEL_STATUSES = {
    "pending": CancelStatus.PENDING,
    "inprogress": CancelStatus.PENDING,
    "processing": CancelStatus.PENDING,
    "completed": CancelStatus.COMPLETED,
    "complete": CancelStatus.COMPLETED,
    "rejected": CancelStatus.REJECTED,
    "declined": CancelStatus.REJECTED,
}


def order_status(value: object) -> OrderStatus:
    """``"Cancelled"``, ``"canceled"``, ``"In Progress"``, ``"in_progress"`` ... -> OrderStatus.

    ``"Refunded"`` counts as Canceled; ``"Complete"`` as Completed.
    """
    try:
        return _ORDER_STATUSES[_word(value)]
    except KeyError:
        raise ValueError(f"unknown order status: {value!r}") from None


def refill_status(value: object) -> RefillStatus:
    """Refill status in any case or spacing; ``"Processing"`` is In progress, ``"Failed"`` Error."""
    try:
        return _REFILL_STATUSES[_word(value)]
    except KeyError:
        raise ValueError(f"unknown refill status: {value!r}") from None


def cancel_status(value: object) -> CancelStatus:
    """Cancel status in any case or spacing; ``"In progress"`` is Pending, ``"Declined"``
    Rejected."""
    try:
        return _CANCEL_STATUSES[_word(value)]
    except KeyError:
        raise ValueError(f"unknown cancel status: {value!r}") from None


_SERVICE_TYPES = {member.value.lower(): member for member in ServiceType}


def service_type(value: object) -> str:
    """``" custom comments "``, ``"custom_comments"`` -> ``"Custom Comments"``.

    Known types come back as :class:`ServiceType` members (which are strings);
    other names come back with their spacing tidied and their case kept.
    """
    if value is None:
        return ServiceType.DEFAULT
    if not isinstance(value, str):
        raise ValueError(f"not a service type: {value!r}")
    tidy = " ".join(value.replace("_", " ").split())
    return _SERVICE_TYPES.get(tidy.lower(), tidy or ServiceType.DEFAULT)


# -- errors ------------------------------------------------------------------

# Untranslated keys (``neworder.error.not_enough_funds``): the last segment,
# looked up here after the English patterns had no match.
_KEY_CODES = {
    "incorrect_key": "invalid_key",
    "invalid_key": "invalid_key",
    "wrong_key": "invalid_key",
    "invalid_api_key": "invalid_key",
    "key_invalid": "invalid_key",
    "incorrect_request": "incorrect_request",
    "invalid_request": "incorrect_request",
    "bad_request": "incorrect_request",
    "incorrect_action": "incorrect_request",
    "incorrect_service": "incorrect_service",
    "invalid_service": "incorrect_service",
    "service_not_found": "incorrect_service",
    "incorrect_link": "incorrect_link",
    "invalid_link": "incorrect_link",
    "incorrect_order": "incorrect_order",
    "invalid_order": "incorrect_order",
    "order_not_found": "incorrect_order",
    "min_quantity": "quantity_too_low",
    "quantity_min": "quantity_too_low",
    "max_quantity": "quantity_too_high",
    "quantity_max": "quantity_too_high",
    "not_enough_funds": "not_enough_funds",
    "insufficient_funds": "not_enough_funds",
    "low_balance": "not_enough_funds",
    "active_order": "active_order_exists",
    "refill_disabled": "refill_disabled",
    "cancel_disabled": "cancel_disabled",
    "not_eligible": "not_eligible",
    "refill_not_found": "refill_not_found",
    "cancel_not_found": "cancel_not_found",
    "too_many_ids": "too_many_ids",
    "too_many_requests": "rate_limited",
    "rate_limit": "rate_limited",
}

# English messages (docs/api.md's table and the usual variants), first match wins.
_MESSAGE_CODES: tuple[tuple[str, str], ...] = (
    (
        r"(invalid|incorrect|wrong|bad|unknown|missing)\W+(api\W+)?key|key\W+(is\W+)?invalid",
        "invalid_key",
    ),
    (r"not\W+enough\W+(funds|money|balance)|insufficient|low\W+balance", "not_enough_funds"),
    (r"active\W+order", "active_order_exists"),
    (r"request\W+id\W+(is\W+)?already\W+used|idempotency\W+key", "request_id_conflict"),
    (r"refill\W+(is\W+)?(disabled|not\W+(available|allowed|supported))", "refill_disabled"),
    (r"cancel\w*\W+(is\W+)?(disabled|not\W+(available|allowed|supported))", "cancel_disabled"),
    (r"not\W+eligible", "not_eligible"),
    (r"refill\W+not\W+found|(incorrect|invalid)\W+refill", "refill_not_found"),
    (r"cancel\w*\W+not\W+found|(incorrect|invalid)\W+cancel", "cancel_not_found"),
    (
        r"sent\W+earlier|already\W+(been\W+)?(sent|requested|exists?|pending|in\W+progress)",
        "already_requested",
    ),
    (r"too\W+many\W+(ids|orders|refills|cancels)", "too_many_ids"),
    (r"too\W+many\W+requests|rate\W+limit", "rate_limited"),
    (r"quantity\W+(is\W+)?(less|lower|below|too\W+(low|small))|minim", "quantity_too_low"),
    (
        r"quantity\W+(is\W+)?(more|greater|higher|above|too\W+(high|big|large))|maxim",
        "quantity_too_high",
    ),
    (
        r"(incorrect|invalid|wrong|bad)\W+service|service\W+(not\W+found|disabled|is\W+disabled)",
        "incorrect_service",
    ),
    (r"(incorrect|invalid|wrong|bad)\W+(order|id)|order\W+not\W+found", "incorrect_order"),
    (r"(incorrect|invalid|wrong|bad)\W+(link|url)", "incorrect_link"),
    (r"(incorrect|invalid|wrong|bad)\W+(request|action|param)", "incorrect_request"),
)
_MESSAGE_RES = tuple((re.compile(pattern), code) for pattern, code in _MESSAGE_CODES)
_KEY_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")


def error_code(message: str) -> str:
    """Normalise a panel's error message or untranslated key to a code.

    ``"Not enough funds on balance"``, ``"neworder.error.not_enough_funds"``
    and ``"Not enough funds"`` all give ``"not_enough_funds"``; anything not
    recognised gives ``"unknown"``. The codes are listed in :data:`ERROR_CODES`.
    """
    text = message.strip().lower()
    if _KEY_RE.match(text) or text in _KEY_CODES:
        last = text.rsplit(".", 1)[-1]
        if last in _KEY_CODES:
            return _KEY_CODES[last]
        text = text.replace(".", " ").replace("_", " ")
    for pattern, code in _MESSAGE_RES:
        if pattern.search(text):
            return code
    return "unknown"


def error_message(value: object) -> str | None:
    """The message of an ``error`` value: a string, or an object with a message.

    Empty values (``None``, ``""``, ``false``, ``0``) mean "no error".
    """
    if value is None or value is False or value == 0:
        return None
    if isinstance(value, str):
        text = " ".join(value.split())
        return None if text.lower() in ("", "0", "false", "null") else text
    if isinstance(value, Mapping):
        for key in ("message", "error", "msg", "text", "description"):
            if key in value:
                return error_message(value[key])
        return str(dict(value))
    if isinstance(value, list) and value:
        parts = [error_message(item) for item in value]
        return "; ".join(part for part in parts if part) or None
    return str(value)


# Words some panels put beside the message ({"status": "error", "error": "..."}):
# they say nothing the message does not.
_NO_DETAIL = frozenset({"error", "fail", "failed", "false", "0", "null"})


def error_details(data: object) -> dict[str, str]:
    """The text an error answer gives beside its message, by field name.

    ``{"error": "Incorrect request", "detail": "quantity: required"}`` gives
    ``{"detail": "quantity: required"}``; fields of an error object
    (``{"error": {"message": ..., "hint": ...}}``) count too. Only text fields,
    ``detail`` first; the message itself and bare markers such as
    ``"status": "error"`` are left out.
    """
    if not isinstance(data, Mapping):
        return {}
    value = data.get("error")
    message_keys = {"error"}
    if value is True or value == 1:
        message_keys |= {"message", "msg"}
    fields = dict(data)
    if isinstance(value, Mapping):
        fields |= {key: text for key, text in value.items() if key not in fields}
        message_keys |= {"message", "msg", "text", "description"}
    details: dict[str, str] = {}
    for key, text in fields.items():
        if str(key) in message_keys or not isinstance(text, str):
            continue
        text = " ".join(text.split())
        if text and text.lower() not in _NO_DETAIL:
            details[str(key)] = text
    return dict(sorted(details.items(), key=lambda item: item[0] != "detail"))


def make_error(message: str) -> ItemError:
    """An :class:`ItemError` with the code :func:`error_code` gives for ``message``."""
    return ItemError(message, error_code(message))


def answer_error(data: object) -> ItemError | None:
    """The error of an answer or of one id's entry, if it is one.

    Reads ``{"error": "..."}``, an error object with a message, the
    ``{"error": true, "message": "..."}`` dialect, and a bare JSON string that is
    a recognised error message (``"Invalid API key"``; an unrecognised string is
    not taken for a rejection).
    """
    if isinstance(data, str):
        text = " ".join(data.split())
        return make_error(text) if error_code(text) != "unknown" else None
    if not isinstance(data, Mapping):
        return None
    value = data.get("error")
    if value is True or value == 1:
        value = data.get("message", data.get("msg", "error"))
    message = error_message(value)
    return None if message is None else make_error(message)


def clean_key(key: str) -> str:
    """A field name without the bracketed notes of the reference (``"rate [Other ...]"``)."""
    return re.sub(r"\s*\[.*\]\s*$", "", key).strip().lower()


# The answer-level parsers live in .answers and are re-exported here, so that
# ``smmpanel.client.dialect`` is the one module to import.
from .answers import (  # noqa: E402
    parse_balance,
    parse_cancel_statuses,
    parse_cancels,
    parse_order_statuses,
    parse_placed_order,
    parse_refill_statuses,
    parse_refills,
    parse_service,
    parse_services,
)
