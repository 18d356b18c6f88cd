"""`smmpanel audit ...`: the trail of changes made by people and scripts."""

from typing import Annotated, Any

import typer

from smmpanel.audit.queries import AuditRow, list_audit, parse_action, parse_since
from smmpanel.audit.service import account_subject
from smmpanel.cli.common import (
    DatabaseUrl,
    JsonFlag,
    Limit,
    emit_json,
    emit_table,
    iso,
    open_panel,
    short_time,
)
from smmpanel.cli.users import find_account

app = typer.Typer(help="The audit trail: who changed what, and when.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")


def _row_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso(row.at),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "before": row.before,
        "after": row.after,
    }


def _changes(row: AuditRow) -> str:
    """`key: old -> new` for each value (`key: new` when there was none before)."""
    before, after = row.before or {}, row.after or {}
    parts = []
    for key in [*before, *(k for k in after if k not in before)]:
        if key in before and key in after:
            parts.append(f"{key}: {_shown(before[key])} -> {_shown(after[key])}")
        elif key in after:
            parts.append(f"{key}: {_shown(after[key])}")
        else:
            parts.append(f"{key}: {_shown(before[key])} -> (removed)")
    return "; ".join(parts)


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    return "-" if value is None else str(value)


@app.command("list")
def list_all(
    user: Annotated[
        str | None,
        typer.Option("--user", help="Only changes to this account and changes it made."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this date or time (UTC), or age: 30m, 24h, 7d."),
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this kind, e.g. account_funded.")
    ] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List audit rows, newest first."""
    moment = None if since is None else parse_since(since)
    kind = None if action is None else parse_action(action)
    with open_panel(database_url) as db:
        subjects: list[str] = []
        actors: list[str] = []
        if user is not None:
            account = find_account(db, user)
            subjects = [account_subject(account.id)]
            actors = [f"api:{account.username}", f"web:{account.username}"]
        rows = list_audit(
            db, subjects=subjects, actors=actors, since=moment, action=kind, limit=limit
        )
    if as_json:
        emit_json([_row_json(row) for row in rows])
        return
    emit_table(
        ["id", "at", "by", "action", "subject", "changes"],
        ((r.id, short_time(r.at), r.actor, r.action, r.subject, _changes(r)) for r in rows),
        empty="no audit rows",
        fold=("changes",),
    )
