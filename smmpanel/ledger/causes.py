"""The causes of ledger entries, spelled in one place.

A cause is an entry's idempotency key (``LedgerEntry.cause`` is unique): the
money step of a command names what it pays for, and the same cause can never
be posted twice, so a refund retried by two paths happens once.  Every cause
is built here; the strings are stored, so they never change.
"""

from __future__ import annotations


def order_charge(order_id: int) -> str:
    """The debit of an order when it is made (a placed order, a post)."""
    return f"charge:order:{order_id}"


def order_refund(order_id: int) -> str:
    """The refund of an order that ended Partial or Canceled."""
    return f"refund:order:{order_id}"


def order_settlement(order_id: int) -> str:
    """The give-back of a subscription post charged provisionally at its max,
    once it is known what it delivered."""
    return f"settle:order:{order_id}"


def deposit_credit(deposit_id: int) -> str:
    """The credit of a paid deposit: unique, so a second webhook credits nothing."""
    return f"deposit:{deposit_id}"


def deposit_bonus(deposit_id: int) -> str:
    """The bonus a gateway's rule adds to a paid deposit, as its own entry."""
    return f"bonus:deposit:{deposit_id}"


def deposit_reversal(deposit_id: int) -> str:
    """The debit of a deposit the gateway refunded or charged back."""
    return f"reversal:deposit:{deposit_id}"
