"""`smmpanel refills ...` and `smmpanel cancels ...`: customers' requests, resolved
by the owner."""

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from smmpanel.audit.models import Actor
from smmpanel.cli.common import (
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
from smmpanel.cli.orders import find_order, refund_of
from smmpanel.db import Database
from smmpanel.money import format_units
from smmpanel.orders.models import CANCEL_STATUSES, REFILL_STATUSES
from smmpanel.orders.queries import (
    RequestView,
    cancels_by_id,
    list_cancels,
    list_refills,
    refills_by_id,
)
from smmpanel.orders.requests import resolve_cancel, resolve_refill

refills = typer.Typer(help="Refill requests of completed orders.", no_args_is_help=True)
cancels = typer.Typer(help="Cancel requests of active orders.", no_args_is_help=True)

RequestId = Annotated[int, id_argument("The request id.")]


def register(root: typer.Typer) -> None:
    root.add_typer(refills, name="refills")
    root.add_typer(cancels, name="cancels")


def _request_json(view: RequestView, *, with_type: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": view.id,
        "order": view.order_id,
        "user": view.username,
        "status": view.status,
    }
    if with_type:
        entry["type"] = view.type
    entry.update(created_at=iso(view.created_at), updated_at=iso(view.updated_at))
    return entry


def _show_requests(views: Sequence[RequestView], as_json: bool, *, with_type: bool) -> None:
    if as_json:
        emit_json([_request_json(v, with_type=with_type) for v in views])
        return
    columns = ["id", "order", "user", *(["type"] if with_type else []), "status", "updated"]
    emit_table(
        columns,
        (
            (
                v.id,
                v.order_id,
                v.username,
                *([v.type] if with_type else []),
                v.status,
                short_time(v.updated_at),
            )
            for v in views
        ),
        empty="no requests",
    )


def _status_option(statuses: Sequence[str]) -> Any:
    return typer.Option("--status", help=f"One of: {', '.join(statuses)} (any case).")


@refills.command("list")
def refill_list(
    status: Annotated[str | None, _status_option(REFILL_STATUSES)] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List refill requests, newest first."""
    wanted = None if status is None else pick(status, REFILL_STATUSES, "refill status")
    with open_panel(database_url) as db:
        views = list_refills(db, status=wanted, limit=limit)
    _show_requests(views, as_json, with_type=False)


def _find(db: Database, request_id: int, *, refill: bool) -> RequestView:
    lookup = refills_by_id if refill else cancels_by_id
    view = lookup(db, [request_id], account_id=None).get(request_id)
    if view is None:
        raise CliError(f"no {'refill' if refill else 'cancel'} request {request_id}")
    return view


@refills.command("update")
def refill_update(
    refill_id: RequestId,
    status: Annotated[str, _status_option(REFILL_STATUSES)],
    database_url: DatabaseUrl = None,
) -> None:
    """Set a refill request's status (Completed, Rejected and Error close it)."""
    new_status = pick(status, REFILL_STATUSES, "refill status")
    with open_panel(database_url) as db:
        before = _find(db, refill_id, refill=True)
        resolve_refill(db, refill_id=refill_id, status=new_status, actor=Actor.cli())
    echo(f"refill {refill_id} (order {before.order_id}): {before.status} -> {new_status}")


@cancels.command("list")
def cancel_list(
    status: Annotated[str | None, _status_option(CANCEL_STATUSES)] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List cancel requests, newest first."""
    wanted = None if status is None else pick(status, CANCEL_STATUSES, "cancel status")
    with open_panel(database_url) as db:
        views = list_cancels(db, status=wanted, limit=limit)
    _show_requests(views, as_json, with_type=True)


@cancels.command("update")
def cancel_update(
    cancel_id: RequestId,
    status: Annotated[str, _status_option(CANCEL_STATUSES)],
    database_url: DatabaseUrl = None,
) -> None:
    """Set a cancel request's status: Completed cancels the order and refunds it."""
    new_status = pick(status, CANCEL_STATUSES, "cancel status")
    with open_panel(database_url) as db:
        before = _find(db, cancel_id, refill=False)
        refunded_before = refund_of(db, before.order_id) is not None
        resolve_cancel(db, cancel_id=cancel_id, status=new_status, actor=Actor.cli())
        order = find_order(db, before.order_id)
        refund = None if refunded_before else refund_of(db, before.order_id)
    if refund is not None:
        echo(f"refunded {format_units(refund.amount)} {order.currency} to {order.username}")
    echo(
        f"cancel {cancel_id} (order {order.id}, now {order.status}): "
        f"{before.status} -> {new_status}"
    )
