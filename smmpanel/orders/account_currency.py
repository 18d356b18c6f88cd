"""Changing the currency an account is kept in, and counting accounts' orders.

It lives with the orders, not the accounts, because its rule reads both: every
stored amount of an account (balance, ledger entries, the charges of its
orders) is in the account's currency, so the currency may change only while
nothing of it is still open: a zero balance and every order final (a refund
of a running order would come back in the old currency)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from smmpanel.accounts.errors import AccountNotFound, UnknownCurrency
from smmpanel.accounts.models import Account, Currency
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import account_subject, record_audit
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.orders.models import FINAL_STATUSES, Order


class CurrencyLocked(DomainError):
    """The account holds money or running orders in its present currency."""


def change_account_currency(
    db: Database, *, username: str, currency: str, actor: Actor = Actor.system()
) -> bool:
    """Keep the account in `currency` from now on (a code with a rate); False
    when it already is.  Refused (CurrencyLocked) while the balance is not zero
    or an order of the account is not final."""
    code = (currency or "").strip().upper()[:8]
    with db.write() as session:
        # Locked: a top-up or an order racing with the change waits for it.
        account = session.execute(
            select(Account).where(Account.username == username).with_for_update()
        ).scalar_one_or_none()
        if account is None:
            raise AccountNotFound(f"no account {username!r}")
        if session.get(Currency, code) is None:
            raise UnknownCurrency(f"unknown currency {code!r}; set its rate first")
        if account.currency == code:
            return False
        if account.balance != 0:
            raise CurrencyLocked(
                "the currency can only change while the balance is zero: "
                "deduct the balance first (and fund it again afterwards)"
            )
        running = session.scalar(
            select(func.count(Order.id)).where(
                Order.account_id == account.id, Order.status.not_in(FINAL_STATUSES)
            )
        )
        if running:
            raise CurrencyLocked(
                "the currency can only change once every order of the account is "
                f"completed, partial or canceled ({running} still running)"
            )
        record_audit(
            session,
            actor=actor,
            action=AuditAction.ACCOUNT_CURRENCY_CHANGED,
            subject=account_subject(account.id),
            before={"currency": account.currency},
            after={"currency": code},
        )
        account.currency = code
    return True


def order_counts_for(db: Database, account_ids: Sequence[int]) -> dict[int, int]:
    """How many orders each of these accounts has placed, as its own order
    list counts them (not drip-feed runs or subscription posts); for one page
    of a list: one grouped count over the (account_id, id) index."""
    if not account_ids:
        return {}
    query = (
        select(Order.account_id, func.count(Order.id))
        .where(Order.account_id.in_(list(account_ids)), Order.parent_id.is_(None))
        .group_by(Order.account_id)
    )
    with db.read() as session:
        return {account_id: int(n) for account_id, n in session.execute(query)}
