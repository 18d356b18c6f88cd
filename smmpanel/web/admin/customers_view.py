"""What the admin's customer page shows, read from each context's own queries
(accounts, orders, ledger, deposits, tickets, catalog, audit) in one go."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from smmpanel.accounts.directory import MAX_ID, CustomerCard, currency_codes, customer_card
from smmpanel.audit.queries import AuditRow, list_audit
from smmpanel.audit.service import account_subject
from smmpanel.catalog.custom_rates import CustomRate, account_custom_rates
from smmpanel.db import Database
from smmpanel.ledger.queries import LedgerRow, account_ledger
from smmpanel.orders.listing import OrderRow, list_account_orders
from smmpanel.payments.queries import DepositRow, account_deposits
from smmpanel.support.queries import TicketSummary, customer_tickets

RECENT_ORDERS = 20
LEDGER_PAGE = 25
TICKETS = 20
DEPOSITS = 20
AUDIT_ROWS = 30


@dataclass(frozen=True)
class CustomerView:
    card: CustomerCard
    orders: list[OrderRow]
    more_orders: bool
    ledger: list[LedgerRow]
    ledger_older: int | None  # the id to page the ledger from, when older entries follow
    tickets: list[TicketSummary]
    deposits: list[DepositRow]
    audit: list[AuditRow]
    rates: list[CustomRate]
    currencies: list[str]


def page_id(text: str | None) -> int | None:
    """An id from the query string (None when absent); anything else is a 400."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID + 1:
        raise HTTPException(400, "Not a page of this list.")
    return int(text)


def account_id_of(request: Request) -> int:
    """The customer id of the path; an id no account can have is a 404."""
    account_id: int = request.path_params["account_id"]
    if not 0 < account_id <= MAX_ID:
        raise HTTPException(404, "No such customer.")
    return account_id


def load_customer(
    db: Database, *, account_id: int, ledger_before: int | None = None
) -> CustomerView | None:
    """The customer page's contents, or None when there is no such account."""
    card = customer_card(db, account_id=account_id)
    if card is None:
        return None
    orders = list_account_orders(db, account_id=account_id, limit=RECENT_ORDERS)
    with db.read() as session:
        deposits = account_deposits(session, account_id=account_id, limit=DEPOSITS)
    entries = account_ledger(
        db, account_id=account_id, before_id=ledger_before, limit=LEDGER_PAGE + 1
    )
    return CustomerView(
        card=card,
        orders=orders.rows,
        more_orders=orders.older is not None,
        ledger=entries[:LEDGER_PAGE],
        ledger_older=entries[LEDGER_PAGE - 1].id if len(entries) > LEDGER_PAGE else None,
        tickets=customer_tickets(db, account_id=account_id, limit=TICKETS),
        deposits=deposits,
        audit=list_audit(db, subjects=[account_subject(account_id)], limit=AUDIT_ROWS),
        rates=account_custom_rates(db, account_id=account_id),
        currencies=currency_codes(db),
    )
