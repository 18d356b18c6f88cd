"""Money the owner adds to (or takes from) an account by hand."""

from __future__ import annotations

from decimal import Decimal

from smmpanel.accounts.errors import BalanceLimit, InvalidAccountInput
from smmpanel.accounts.service import account_by_username
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, money, record_audit
from smmpanel.db import Database
from smmpanel.ledger import models as ledger_models
from smmpanel.ledger.service import post_entry
from smmpanel.money import (
    MAX_BALANCE,
    MAX_BALANCE_UNITS,
    format_units,
    parse_amount,
    plain_decimal,
    to_units,
)


def fund_amount_units(amount: Decimal | str) -> int:
    """The minor units of a top-up (or, negative, a deduction): exact, at most
    MAX_AMOUNT, never zero; an InvalidValue otherwise."""
    units = to_units(parse_amount(amount))
    if units == 0:
        raise InvalidAccountInput("the amount must not be zero")
    return units


def fund_account(
    db: Database,
    *,
    username: str,
    amount: Decimal | str,
    note: str = "",
    actor: Actor = Actor.system(),
) -> int:
    """Add (or, negative, deduct) money in the account's currency; returns the new
    balance in minor units.  A deduction never takes the balance below zero, a
    top-up never above MAX_BALANCE."""
    units = fund_amount_units(amount)
    kind = ledger_models.TOPUP if units > 0 else ledger_models.ADJUSTMENT
    with db.write() as session:
        account = account_by_username(session, username)
        # The ledger names the owner as it always has; the trail says which person.
        entry = post_entry(
            session, account_id=account.id, kind=kind, amount=units, actor="owner", note=note
        )
        # The balance after the (atomic) update: checking it here is race-free,
        # and raising rolls the entry back.
        if entry.balance_after > MAX_BALANCE_UNITS:
            raise BalanceLimit(
                f"the balance of {username} would be {format_units(entry.balance_after)} "
                f"{account.currency}, above the largest a panel keeps "
                f"({plain_decimal(MAX_BALANCE)})"
            )
        record_audit(
            session,
            actor=actor,
            action=AuditAction.ACCOUNT_FUNDED,
            subject=account_subject(account.id),
            before={"balance": money(entry.balance_after - units)},
            after={
                "balance": money(entry.balance_after),
                "amount": money(units),
                "currency": account.currency,
                "note": note,
            },
        )
        return entry.balance_after
