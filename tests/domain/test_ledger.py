"""post_entry directly: each move recorded with the balance after it, never
below zero, a cause posted once (a look-up, then the unique constraint), and a
refused entry undoing only itself (a savepoint).  The balance moves with one
Core UPDATE; an Account the session has already loaded still sees it."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from smmpanel.accounts.models import Account
from smmpanel.db import Database
from smmpanel.ledger.errors import AlreadyPosted, InsufficientFunds
from smmpanel.ledger.models import ADJUSTMENT, CHARGE, REFUND, TOPUP, LedgerEntry
from smmpanel.ledger.service import post_entry, post_fresh_entry
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


def _entries(db: Database, account_id: int) -> list[tuple[str, int, int, str | None]]:
    with db.read() as session:
        rows = session.execute(
            select(
                LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.balance_after, LedgerEntry.cause
            )
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.id)
        )
        return [(k, a, b, c) for k, a, b, c in rows]


def _balance(db: Database, account_id: int) -> int:
    with db.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.balance


def test_entries_record_each_move_and_the_balance_after_it(db: Database) -> None:
    alice = make_customer(db, balance="0")
    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=TOPUP, amount=500, actor="t", cause="t:1")
        post_entry(session, account_id=alice.id, kind=CHARGE, amount=-120, actor="t", cause="t:2")
        post_entry(session, account_id=alice.id, kind=REFUND, amount=20, actor="t", cause="t:3")
    assert _entries(db, alice.id) == [
        (TOPUP, 500, 500, "t:1"),
        (CHARGE, -120, 380, "t:2"),
        (REFUND, 20, 400, "t:3"),
    ]
    assert _balance(db, alice.id) == 400 == sum(a for _, a, _, _ in _entries(db, alice.id))


def test_a_debit_of_exactly_the_balance_leaves_zero(db: Database) -> None:
    alice = make_customer(db, balance="0")
    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=TOPUP, amount=300, actor="t")
        post_entry(session, account_id=alice.id, kind=CHARGE, amount=-300, actor="t")
    assert _balance(db, alice.id) == 0
    with pytest.raises(InsufficientFunds), db.write() as session:
        post_entry(session, account_id=alice.id, kind=CHARGE, amount=-1, actor="t")
    assert _balance(db, alice.id) == 0 and len(_entries(db, alice.id)) == 2


@pytest.mark.parametrize(("kind", "amount"), [("gift", 10), (TOPUP, 0)])
def test_an_unknown_kind_or_a_zero_amount_is_a_programming_error(
    db: Database, kind: str, amount: int
) -> None:
    alice = make_customer(db, balance="0")
    with pytest.raises(ValueError), db.write() as session:
        post_entry(session, account_id=alice.id, kind=kind, amount=amount, actor="t")
    assert _entries(db, alice.id) == []


def test_a_cause_is_posted_once_and_the_second_try_changes_nothing(db: Database) -> None:
    alice = make_customer(db, balance="1")
    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=REFUND, amount=70, actor="t", cause="r:9")
    with pytest.raises(AlreadyPosted), db.write() as session:
        post_entry(session, account_id=alice.id, kind=REFUND, amount=70, actor="t", cause="r:9")
    assert _balance(db, alice.id) == 100_070
    assert [c for _, _, _, c in _entries(db, alice.id)].count("r:9") == 1


def test_a_refused_entry_leaves_the_callers_transaction_usable(db: Database) -> None:
    """The savepoint: an entry refused inside a bigger command undoes only itself;
    what the command did before and after it commits."""
    alice = make_customer(db, balance="1")
    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=REFUND, amount=5, actor="t", cause="once")
    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=TOPUP, amount=1, actor="t", cause="before")
        with pytest.raises(AlreadyPosted):
            post_entry(session, account_id=alice.id, kind=REFUND, amount=5, actor="t", cause="once")
        with pytest.raises(InsufficientFunds):
            post_entry(session, account_id=alice.id, kind=CHARGE, amount=-(10**9), actor="t")
        post_entry(session, account_id=alice.id, kind=TOPUP, amount=2, actor="t", cause="after")
    causes = [c for _, _, _, c in _entries(db, alice.id)]
    assert causes[-3:] == ["once", "before", "after"]
    assert _balance(db, alice.id) == 100_000 + 5 + 1 + 2


def test_the_unique_cause_stands_behind_a_racing_twin(db: Database) -> None:
    """A twin posts the same cause while the first transaction is still open:
    its look-up cannot see the uncommitted entry, so only the unique constraint
    can refuse it.  It does, inside the savepoint, which also undoes the twin's
    balance update: the balance moves once."""
    if db.is_sqlite:
        pytest.skip("SQLite runs one writer at a time: no twin can race")
    alice = make_customer(db, balance="1")
    outcome: list[str] = []

    def twin() -> None:
        try:
            with db.write() as session:
                post_entry(
                    session, account_id=alice.id, kind=REFUND, amount=40, actor="t", cause="twin"
                )
            outcome.append("posted")
        except AlreadyPosted:
            outcome.append("already posted")

    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=REFUND, amount=40, actor="t", cause="twin")
        racer = threading.Thread(target=twin)
        racer.start()
        time.sleep(0.5)  # the twin has looked, found nothing, and waits on our locks
        assert racer.is_alive()
    racer.join(timeout=30)
    assert outcome == ["already posted"]
    assert _balance(db, alice.id) == 100_040
    assert [c for _, _, _, c in _entries(db, alice.id)].count("twin") == 1


def test_a_fresh_cause_skips_the_look_up_but_not_the_constraint(db: Database) -> None:
    alice = make_customer(db, balance="1")
    with db.write() as session:
        post_entry(session, account_id=alice.id, kind=REFUND, amount=3, actor="t", cause="new")
    with pytest.raises(IntegrityError), db.write() as session:
        post_fresh_entry(
            session, account_id=alice.id, kind=REFUND, amount=3, actor="t", cause="new"
        )
    assert _balance(db, alice.id) == 100_003
