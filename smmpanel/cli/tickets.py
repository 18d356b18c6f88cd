"""`smmpanel tickets ...`: the owner reads and answers customers' support tickets."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from smmpanel.audit.models import Actor
from smmpanel.cli.common import (
    BadValue,
    DatabaseUrl,
    JsonFlag,
    Limit,
    echo,
    emit_json,
    emit_table,
    id_argument,
    iso,
    open_panel,
    pick,
    short_time,
)
from smmpanel.cli.users import find_account
from smmpanel.support.models import STATUSES
from smmpanel.support.queries import TicketSummary, TicketThread, list_tickets, ticket_thread
from smmpanel.support.service import close_ticket, reply_as_owner

app = typer.Typer(help="Support tickets: list, read, answer, close.", no_args_is_help=True)
TicketId = Annotated[int, id_argument("The ticket id.")]
# A reply read from a file or standard input: a bound well above a message's 5,000
# characters, so a wrong file is refused by the domain's rule, not read whole.
MAX_READ = 100_000


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tickets")


def _summary_json(ticket: TicketSummary) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "user": ticket.username,
        "subject": ticket.subject,
        "status": ticket.status,
        "orders": list(ticket.order_ids),
        "unread_by_customer": ticket.unread_by_customer,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }


@app.command("list")
def list_all(
    status: Annotated[
        str | None,
        typer.Option("--status", help=f"Only tickets in this status: {', '.join(STATUSES)}."),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this account's tickets.")] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List tickets, the most recently active first (`--status open`: awaiting an answer)."""
    chosen = None if status is None else pick(status, STATUSES, "status")
    with open_panel(database_url) as db:
        account_id = None if user is None else find_account(db, user).id
        rows = list_tickets(db, status=chosen, account_id=account_id, limit=limit)
    if as_json:
        emit_json([_summary_json(row) for row in rows])
        return
    emit_table(
        ["id", "user", "subject", "status", "orders", "updated"],
        (
            (
                r.id,
                r.username,
                r.subject,
                r.status,
                ",".join(str(i) for i in r.order_ids),
                short_time(r.updated_at),
            )
            for r in rows
        ),
        empty="no tickets",
    )


@app.command("show")
def show(ticket_id: TicketId, as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """A ticket and its whole thread, oldest message first."""
    with open_panel(database_url) as db:
        thread = ticket_thread(db, ticket_id=ticket_id)
    if as_json:
        emit_json(_thread_json(thread))
        return
    t = thread.ticket
    orders = ", ".join(str(i) for i in t.order_ids) or "-"
    echo(f"ticket {t.id} · {t.username} · {t.subject} · {t.status} · orders: {orders}")
    for message in thread.messages:
        echo("")
        echo(f"--- {message.author}, {short_time(message.created_at)}")
        echo(message.body)


def _thread_json(thread: TicketThread) -> dict[str, Any]:
    return _summary_json(thread.ticket) | {
        "messages": [
            {"author": m.author, "at": iso(m.created_at), "text": m.body} for m in thread.messages
        ]
    }


@app.command("reply")
def reply(
    ticket_id: TicketId,
    text: Annotated[
        str | None, typer.Argument(help="The answer (or --file; '-' or nothing: standard input).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the answer from this file.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Answer a ticket: the customer sees it marked new until they open it."""
    message = _reply_text(text, file)
    with open_panel(database_url) as db:
        reply_as_owner(db, ticket_id=ticket_id, message=message, actor=Actor.cli())
    echo(f"ticket {ticket_id} answered")


def _reply_text(text: str | None, file: Path | None) -> str:
    if text is not None and file is not None:
        raise BadValue("give the answer as TEXT or --file, not both")
    if file is not None:
        try:
            with file.open(encoding="utf-8") as source:
                return source.read(MAX_READ)
        except (OSError, UnicodeDecodeError) as exc:
            raise BadValue(f"cannot read {file}: {exc}") from None
    if text is None or text == "-":
        try:
            return sys.stdin.read(MAX_READ)
        except UnicodeDecodeError as exc:
            raise BadValue(f"standard input is not UTF-8 text: {exc}") from None
    return text


@app.command("close")
def close(ticket_id: TicketId, database_url: DatabaseUrl = None) -> None:
    """Close a ticket (a customer's reply reopens it)."""
    with open_panel(database_url) as db:
        close_ticket(db, ticket_id=ticket_id, actor=Actor.cli())
    echo(f"ticket {ticket_id} closed")
