"""`smmpanel ledger ...`."""

from __future__ import annotations

import json

from sqlalchemy import text

from smmpanel.db import Database
from tests.cli.conftest import Run
from tests.factories import make_customer


def test_check_clean(run: Run, db: Database) -> None:
    assert run("ledger", "check").stdout.strip() == "ledger ok: 0 accounts checked"
    make_customer(db, "alice", balance="10")
    make_customer(db, "bob", balance="0")
    run("users", "fund", "alice", "-2.5")
    assert run("ledger", "check").stdout.strip() == "ledger ok: 2 accounts checked"


def test_check_finds_a_corrupted_balance(run: Run, db: Database) -> None:
    alice = make_customer(db, "alice", balance="10")
    make_customer(db, "bob", balance="3")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET balance = 1234567 WHERE id = :id"), {"id": alice.id})
    result = run("ledger", "check", ok=False)
    assert result.stdout.strip() == (
        f"alice (id {alice.id}): balance 12.34567 USD, ledger sum 10.00000 USD, "
        f"difference +2.34567 USD"
    )
    assert result.stderr.strip() == "Error: 1 of 2 accounts differ from their ledger entries"


def test_list(run: Run, db: Database) -> None:
    assert run("ledger", "list").stdout.strip() == "no ledger entries"
    make_customer(db, "alice", balance="10")
    make_customer(db, "bob", balance="5")
    run("users", "fund", "alice", "-1.5", "--note", "correction")
    rows = json.loads(run("ledger", "list", "--json").stdout)
    assert [(r["user"], r["kind"], r["amount"], r["balance_after"]) for r in rows] == [
        ("alice", "adjustment", "-1.50000", "8.50000"),
        ("bob", "topup", "5.00000", "5.00000"),
        ("alice", "topup", "10.00000", "10.00000"),
    ]
    assert rows[0]["note"] == "correction"
    assert (rows[0]["currency"], rows[0]["actor"], rows[0]["order"]) == ("USD", "owner", None)
    only_alice = json.loads(
        run("ledger", "list", "--user", "alice", "--limit", "1", "--json").stdout
    )
    assert [(r["user"], r["amount"]) for r in only_alice] == [("alice", "-1.50000")]
    table = run("ledger", "list", "--user", "bob").stdout
    line = next(line for line in table.splitlines() if "bob" in line)
    assert line.split()[3:7] == ["bob", "topup", "5.00000", "USD"]
    assert "no account 'carol'" in run("ledger", "list", "--user", "carol", ok=False).stderr
