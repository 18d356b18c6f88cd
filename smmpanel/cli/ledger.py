"""`smmpanel ledger ...`: verify balances against the ledger, list entries."""

from typing import Annotated

import typer

from smmpanel.accounts.queries import list_accounts
from smmpanel.cli.common import (
    DatabaseUrl,
    JsonFlag,
    Limit,
    echo,
    emit_json,
    emit_table,
    fail_now,
    iso,
    open_panel,
    short_time,
)
from smmpanel.cli.users import find_account
from smmpanel.ledger.queries import find_balance_mismatches, list_entries
from smmpanel.money import format_units

app = typer.Typer(help="The append-only money ledger.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ledger")


@app.command("check")
def check(database_url: DatabaseUrl = None) -> None:
    """Verify that every cached balance equals the sum of its ledger entries; exit 1
    if any differs."""
    with open_panel(database_url) as db:
        accounts = {row.id: row for row in list_accounts(db)}
        mismatches = find_balance_mismatches(db)
    if not mismatches:
        echo(f"ledger ok: {len(accounts)} accounts checked")
        return
    for m in mismatches:
        currency = accounts[m.account_id].currency if m.account_id in accounts else ""
        difference = m.cached - m.ledger_sum
        sign = "+" if difference > 0 else ""
        echo(
            f"{m.username} (id {m.account_id}): balance {format_units(m.cached)} {currency}, "
            f"ledger sum {format_units(m.ledger_sum)} {currency}, "
            f"difference {sign}{format_units(difference)} {currency}"
        )
    fail_now(f"{len(mismatches)} of {len(accounts)} accounts differ from their ledger entries")


@app.command("list")
def list_all(
    user: Annotated[str | None, typer.Option("--user", help="Only this account's.")] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List ledger entries, newest first."""
    with open_panel(database_url) as db:
        account_id = None if user is None else find_account(db, user).id
        entries = list_entries(db, account_id=account_id, limit=limit)
        accounts = {row.id: row for row in list_accounts(db)}
    rows = [
        {
            "id": e.id,
            "user": accounts[e.account_id].username,
            "kind": e.kind,
            "amount": format_units(e.amount),
            "balance_after": format_units(e.balance_after),
            "currency": accounts[e.account_id].currency,
            "order": e.order_id,
            "actor": e.actor,
            "note": e.note,
            "at": iso(e.created_at),
        }
        for e in entries
    ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["id", "at", "user", "kind", "amount", "balance", "order", "by", "note"],
        (
            (
                r["id"],
                short_time(e.created_at),
                r["user"],
                r["kind"],
                f"{r['amount']} {r['currency']}",
                r["balance_after"],
                r["order"],
                r["actor"],
                r["note"],
            )
            for r, e in zip(rows, entries, strict=True)
        ),
        empty="no ledger entries",
        fold=("note", "by"),
    )
