"""`smmpanel orders ...`: list, inspect and update orders (manual fulfilment)."""

from typing import Annotated, Any

import typer
from sqlalchemy import select

from smmpanel.audit.models import Actor
from smmpanel.cli.common import (
    MAX_COUNT,
    BadValue,
    CliError,
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
from smmpanel.db import Database
from smmpanel.ledger import causes
from smmpanel.ledger.models import LedgerEntry
from smmpanel.money import format_units
from smmpanel.orders.models import ORDER_STATUSES, OrderEvent
from smmpanel.orders.posts import record_post
from smmpanel.orders.queries import OrderView, list_orders, order_events, orders_by_id
from smmpanel.orders.service import update_order
from smmpanel.providers.forwarding import resend_order
from smmpanel.providers.queries import Forwarding, forwarding_of
from smmpanel.providers.reconcile import mark_for_reconciliation

app = typer.Typer(help="Customer orders.", no_args_is_help=True)

OrderId = Annotated[int, id_argument("The order id.")]
STATUS_HELP = f"One of: {', '.join(ORDER_STATUSES)} (any case)."


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="orders")


def find_order(db: Database, order_id: int) -> OrderView:
    view = orders_by_id(db, [order_id], account_id=None).get(order_id)
    if view is None:
        raise CliError(f"no order {order_id}")
    return view


def refund_of(db: Database, order_id: int) -> LedgerEntry | None:
    """The refund entry of an order, if it was refunded (it can be, once)."""
    with db.read() as session:
        return session.scalars(
            select(LedgerEntry).where(LedgerEntry.cause == causes.order_refund(order_id))
        ).first()


def _ledger_of(db: Database, order_id: int) -> list[LedgerEntry]:
    with db.read() as session:
        query = select(LedgerEntry).where(LedgerEntry.order_id == order_id)
        return list(session.scalars(query.order_by(LedgerEntry.id)))


def order_json(view: OrderView) -> dict[str, Any]:
    return {
        "id": view.id,
        "user": view.username,
        "service": view.service_id,
        "kind": view.kind,
        "link": view.link,
        "quantity": view.quantity,
        "runs": view.runs,
        "interval": view.interval,
        "total_quantity": view.total_quantity,
        # What the order costs now (as the API's `status` says), then what was
        # debited for it and what was given back of that.
        "charge": format_units(view.charge),
        "charged": format_units(view.charged),
        "refunded": format_units(view.refunded),
        "currency": view.currency,
        "status": view.status,
        "start_count": view.start_count,
        "remains": view.remains,
        "created_at": iso(view.created_at),
    }


def _event_json(event: OrderEvent) -> dict[str, Any]:
    return {
        "from": event.from_status,
        "to": event.to_status,
        "start_count": event.start_count,
        "remains": event.remains,
        "actor": event.actor,
        "note": event.note,
        "at": iso(event.created_at),
    }


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "amount": format_units(entry.amount),
        "balance_after": format_units(entry.balance_after),
        "at": iso(entry.created_at),
    }


@app.command("list")
def list_all(
    status: Annotated[str | None, typer.Option("--status", help=STATUS_HELP)] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this account's.")] = None,
    stale: Annotated[
        bool, typer.Option("--stale", help="Only forwarded orders unchanged for too long.")
    ] = False,
    reconcile: Annotated[
        bool, typer.Option("--reconcile", help="Only orders waiting for reconciliation.")
    ] = False,
    waiting: Annotated[
        bool,
        typer.Option("--waiting", help="Only orders waiting for a provider (paused, unreachable)."),
    ] = False,
    stuck: Annotated[
        bool,
        typer.Option(
            "--stuck", help="Only orders whose forwarding failed (resend or cancel them)."
        ),
    ] = False,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List orders, newest first; `charge` is what each costs now (refunds taken off)."""
    wanted = None if status is None else pick(status, ORDER_STATUSES, "status")
    with open_panel(database_url) as db:
        if user is not None:
            find_account(db, user)
        views = list_orders(
            db,
            status=wanted,
            username=user,
            limit=limit,
            stale=stale,
            reconcile=reconcile,
            waiting=waiting,
            stuck=stuck,
        )
        forwarding = forwarding_of(db, [v.id for v in views]) if waiting or stuck else {}
    if as_json:
        emit_json([_with_forwarding(order_json(v), forwarding.get(v.id)) for v in views])
        return
    columns = ["id", "user", "service", "link", "quantity", "charge", "status", "start", "remains"]
    rows = [
        [
            v.id,
            v.username,
            v.service_id,
            v.link,
            v.total_quantity,
            f"{format_units(v.charge)} {v.currency}",
            v.status,
            "" if v.start_count is None else v.start_count,
            v.remains,
        ]
        for v in views
    ]
    if forwarding:
        columns += ["waiting since" if waiting else "forwarding", "why"]
        for row, view in zip(rows, views, strict=True):
            found = forwarding[view.id]
            state = short_time(found.waiting_since) if waiting else found.state or ""
            row += [state, found.problem]
    emit_table(columns, rows, empty="no orders", fold=("link", "why"))


def _with_forwarding(data: dict[str, Any], forwarding: Forwarding | None) -> dict[str, Any]:
    if forwarding is not None:
        data["forwarding"] = {
            "state": forwarding.state,
            "provider": forwarding.provider,
            "waiting_since": iso(forwarding.waiting_since),
            "problem": forwarding.problem,
        }
    return data


@app.command("show")
def show(order_id: OrderId, as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """Show one order with its status history and money movements."""
    with open_panel(database_url) as db:
        view = find_order(db, order_id)
        events = order_events(db, order_id)
        entries = _ledger_of(db, order_id)
        forwarding = forwarding_of(db, [order_id]).get(order_id)
    if forwarding is not None and forwarding.state is None:
        forwarding = None  # fulfilled by hand
    details = _with_forwarding(order_json(view), forwarding)
    if as_json:
        emit_json(
            {
                "order": details,
                "events": [_event_json(e) for e in events],
                "ledger": [_entry_json(e) for e in entries],
            }
        )
        return
    for key, value in details.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items() if v)
        echo(f"{key + ':':16}{'' if value is None else value}")
    echo()
    emit_table(
        ["at", "from", "to", "start", "remains", "by", "note"],
        (
            (
                short_time(e.created_at),
                e.from_status or "",
                e.to_status,
                e.start_count,
                e.remains,
                e.actor,
                e.note,
            )
            for e in events
        ),
        title="status history",
        fold=("note",),
    )
    emit_table(
        ["entry", "kind", "amount", "balance after", "at"],
        (
            (
                e.id,
                e.kind,
                format_units(e.amount),
                format_units(e.balance_after),
                short_time(e.created_at),
            )
            for e in entries
        ),
        title="ledger",
        empty="no money moved",
    )


@app.command("update")
def update(
    order_id: OrderId,
    status: Annotated[str | None, typer.Option("--status", help=STATUS_HELP)] = None,
    start_count: Annotated[
        int | None,
        typer.Option("--start-count", help="Count before delivery began.", min=0, max=MAX_COUNT),
    ] = None,
    remains: Annotated[
        int | None, typer.Option("--remains", help="Units not delivered.", min=0, max=MAX_COUNT)
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Kept in the status history.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Set an order's status and counters; Partial and Canceled refund automatically."""
    new_status = None if status is None else pick(status, ORDER_STATUSES, "status")
    if new_status is None and start_count is None and remains is None:
        raise BadValue("nothing to change; give --status, --start-count or --remains")
    with open_panel(database_url) as db:
        before = find_order(db, order_id)
        refunded_before = refund_of(db, order_id) is not None
        changed = update_order(
            db,
            order_id=order_id,
            status=new_status,
            start_count=start_count,
            remains=remains,
            note=note,
            actor=Actor.cli(),
        )
        after = find_order(db, order_id)
        refund = None if refunded_before else refund_of(db, order_id)
    if not changed:
        echo(f"order {order_id}: unchanged ({after.status})")
        return
    if refund is not None:
        echo(f"refunded {format_units(refund.amount)} {after.currency} to {after.username}")
    start = "-" if after.start_count is None else after.start_count
    moved = after.status if before.status == after.status else f"{before.status} -> {after.status}"
    echo(f"order {order_id}: {moved} (start count {start}, remains {after.remains})")


@app.command("resend")
def resend(order_id: OrderId, database_url: DatabaseUrl = None) -> None:
    """Send an order whose forwarding failed (or that waits) to its providers again."""
    with open_panel(database_url) as db:
        queued = resend_order(db, order_id=order_id, actor=Actor.cli())
    how = "queued for forwarding" if queued else "waiting: tried again now"
    echo(f"order {order_id}: {how} (the worker sends it)")


@app.command("reconcile")
def reconcile(order_id: OrderId, database_url: DatabaseUrl = None) -> None:
    """Look a failed order up at its provider before resending or refunding it."""
    with open_panel(database_url) as db:
        mark_for_reconciliation(db, order_id=order_id, actor=Actor.cli())
    echo(f"order {order_id}: marked for reconciliation (the worker looks it up)")


@app.command("post")
def post(
    subscription_id: Annotated[
        int, typer.Argument(help="The subscription's order id.", show_default=False)
    ],
    quantity: Annotated[
        int, typer.Argument(help="Units the post got (at most the subscription's max).", min=1)
    ],
    status: Annotated[
        str, typer.Option("--status", help="The post's status: pending ... completed.")
    ] = "Completed",
    database_url: DatabaseUrl = None,
) -> None:
    """Record a post of a manual subscription, charged for its units; prints its order id."""
    new_status = pick(status, ORDER_STATUSES, "status")
    with open_panel(database_url) as db:
        made = record_post(
            db,
            subscription_id=subscription_id,
            quantity=quantity,
            status=new_status,
            actor=Actor.cli(),
        )
    echo(
        f"post {made.number} of subscription {subscription_id}: {quantity} units, "
        f"charged {format_units(made.charge)} {made.currency}"
    )
    echo(str(made.order_id))
