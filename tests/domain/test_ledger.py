"""post_entry: the balance moves with one Core UPDATE; an Account the session
has already loaded still sees the new balance, as with an ORM UPDATE."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.models import ADJUSTMENT, TOPUP
from smmpanel.ledger.service import post_entry
from tests.factories import make_customer


def test_a_loaded_account_sees_the_new_balance(db: Database) -> None:
    alice = make_customer(db, balance="1")
    with db.write() as session:
        account = session.scalars(select(Account).where(Account.id == alice.id)).one()
        assert account.balance == 100_000
        entry = post_entry(session, account_id=alice.id, kind=TOPUP, amount=250, actor="t")
        assert entry.balance_after == 100_250
        assert account.balance == 100_250
        assert not session.dirty  # set as loaded, not as a change to flush
    with db.read() as session:
        assert session.get(Account, alice.id).balance == 100_250  # type: ignore[union-attr]


def test_an_overdraft_changes_nothing(db: Database) -> None:
    alice = make_customer(db, balance="1")
    with pytest.raises(InsufficientFunds), db.write() as session:
        account = session.get(Account, alice.id)
        assert account is not None
        try:
            post_entry(session, account_id=alice.id, kind=ADJUSTMENT, amount=-100_001, actor="t")
        finally:
            assert account.balance == 100_000
    with db.read() as session:
        assert session.get(Account, alice.id).balance == 100_000  # type: ignore[union-attr]
