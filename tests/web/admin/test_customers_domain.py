"""The domain reads and commands behind the admin's customers section, on
SQLite and PostgreSQL: the search's keyset pages, the currency change's rule,
order counts, own prices, and reset links audited when a person issues them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from smmpanel.accounts.directory import customer_card, search_accounts
from smmpanel.accounts.errors import AccountNotFound, UnknownCurrency
from smmpanel.accounts.passwords import issue_reset_token
from smmpanel.accounts.service import create_account, set_currency_rate
from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.catalog.custom_rates import CustomRate, account_custom_rates
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.orders.account_currency import (
    CurrencyLocked,
    change_account_currency,
    order_counts_for,
)
from smmpanel.orders.service import place_order, update_order
from tests.factories import make_customer, make_service

STAFF = Actor.staff("olga")


def audit_actions(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject).order_by(AuditEntry.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_search_pages_by_keyset(db: Database) -> None:
    ids = [create_account(db, username=f"user{n}").id for n in range(5)]
    first = search_accounts(db, limit=2)
    assert [r.id for r in first.rows] == ids[:2:-1] and first.newer is None
    assert first.older == ids[3]
    second = search_accounts(db, before=first.older, limit=2)
    assert [r.id for r in second.rows] == [ids[2], ids[1]]
    assert (second.older, second.newer) == (ids[1], ids[2])
    last = search_accounts(db, before=second.older, limit=2)
    assert [r.id for r in last.rows] == [ids[0]] and last.older is None
    back = search_accounts(db, after=second.newer, limit=2)
    assert [r.id for r in back.rows] == [ids[4], ids[3]] and back.newer is None
    assert [r.id for r in search_accounts(db, text="USER3").rows] == [ids[3]]
    assert search_accounts(db, text="99999999999").rows == []  # past any id: no error


def test_the_card_shows_no_secret(db: Database) -> None:
    alice = make_customer(db, balance="7.5")
    card = customer_card(db, account_id=alice.id)
    assert card is not None
    assert (card.balance, card.currency, card.key_prefixes) == (750_000, "USD", (alice.key[:6],))
    assert (card.two_factor, card.has_password, card.rate_limit) == (False, False, None)
    assert customer_card(db, account_id=alice.id + 1) is None


def test_the_currency_changes_only_with_nothing_open(db: Database) -> None:
    set_currency_rate(db, code="EUR", rate="0.9")
    service = make_service(db, rate="0.90")
    alice = make_customer(db, balance="0.09")  # exactly one order of 100
    order = place_order(
        db,
        account_id=alice.id,
        service_id=service,
        params={"link": "https://x.y/", "quantity": 100},
    ).order_id
    assert customer_card(db, account_id=alice.id).balance == 0  # type: ignore[union-attr]
    with pytest.raises(CurrencyLocked, match="1 still running"):
        change_account_currency(db, username="alice", currency="EUR", actor=STAFF)
    update_order(db, order_id=order, status="Completed")
    with pytest.raises(UnknownCurrency):
        change_account_currency(db, username="alice", currency="GBP", actor=STAFF)
    with pytest.raises(AccountNotFound):
        change_account_currency(db, username="nobody", currency="EUR", actor=STAFF)
    before = len(audit_actions(db))
    assert change_account_currency(db, username="alice", currency="usd", actor=STAFF) is False
    assert len(audit_actions(db)) == before  # nothing changed, nothing recorded
    assert change_account_currency(db, username="alice", currency="eur", actor=STAFF) is True
    assert customer_card(db, account_id=alice.id).currency == "EUR"  # type: ignore[union-attr]
    assert audit_actions(db)[-1] == (
        "staff:olga",
        "account_currency_changed",
        f"account:{alice.id}",
    )
    fund_account(db, username="alice", amount="1")
    with pytest.raises(CurrencyLocked, match="balance is zero"):
        change_account_currency(db, username="alice", currency="USD", actor=STAFF)


def test_order_counts_of_a_page(db: Database) -> None:
    service = make_service(db)
    alice, bob = make_customer(db, "alice"), make_customer(db, "bob")
    for n in range(3):
        place_order(
            db,
            account_id=alice.id,
            service_id=service,
            params={"link": f"https://x.y/{n}", "quantity": 100},
        )
    assert order_counts_for(db, [alice.id, bob.id]) == {alice.id: 3}
    assert order_counts_for(db, []) == {}


def test_own_prices_of_an_account(db: Database) -> None:
    cheap, dear = make_service(db, name="Cheap", rate="1"), make_service(db, name="Dear", rate="9")
    alice = make_customer(db)
    set_custom_rate(db, username="alice", service_id=dear, rate="7.5")
    set_custom_rate(db, username="alice", service_id=cheap, rate="0")
    assert account_custom_rates(db, account_id=alice.id) == [
        CustomRate(cheap, "Cheap", 0, 100_000),
        CustomRate(dear, "Dear", 750_000, 900_000),
    ]


def test_reset_links_by_a_person_are_audited(db: Database) -> None:
    alice = make_customer(db)
    before = len(audit_actions(db))
    issue_reset_token(db, username="alice")  # the customer's own mail: throttled, not audited
    assert len(audit_actions(db)) == before
    token = issue_reset_token(db, username="alice", actor=STAFF)
    assert audit_actions(db)[-1] == ("staff:olga", "reset_link_issued", f"account:{alice.id}")
    with db.read() as session:
        details = session.scalar(select(AuditEntry.details).order_by(AuditEntry.id.desc()))
        assert details is not None and token not in details
        assert session.scalar(select(func.count(AuditEntry.id))) == before + 1
