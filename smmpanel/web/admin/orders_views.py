"""The admin's orders pages as rendered: the list and one order's page, also
rendered again by the actions (orders_actions.py) when their input is wrong,
and the notice an action leaves for the page it redirects to."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.orders.admin_history import order_history
from smmpanel.orders.admin_listing import FORWARD_FILTERS, admin_order_row, list_all_orders
from smmpanel.orders.models import ACTIVE_STATUSES, ORDER_STATUSES, ForwardState
from smmpanel.providers.order_calls import order_calls, provider_names
from smmpanel.web.admin.access import admin_context, admin_page
from smmpanel.web.admin.forms_orders import (
    BULK_ACTIONS,
    AdoptForm,
    BulkForm,
    NoteForm,
    PartialForm,
    ResolveForm,
    number_of,
    read_filters,
)

LIST = "admin/orders_list.html"
DETAIL = "admin/orders_detail.html"
NOTICE = "orders_notice"
# What each action needs of the order (the page offers only what may succeed;
# the domain command still decides).
RESENDABLE = (ForwardState.QUEUED, ForwardState.FAILED)
ADOPTABLE = (ForwardState.QUEUED, ForwardState.FAILED, ForwardState.RECONCILE)


def put_notice(request: Request, notice: dict[str, Any]) -> None:
    """What an action did, for the page it redirects to (kept in the admin
    session cookie until that page is shown: keep it small)."""
    request.session[NOTICE] = notice


def take_notice(request: Request) -> dict[str, Any] | None:
    notice = request.session.pop(NOTICE, None)
    return notice if isinstance(notice, dict) else None


async def list_page(
    request: Request,
    bulk: BulkForm,
    *,
    notice: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The list with the query's filters (the bulk form posts back to here
    when its input is wrong)."""
    query = read_filters(request.query_params)
    before = number_of(request.query_params.get("before"))
    after = number_of(request.query_params.get("after"))
    db = admin_context(request).db
    found = await run_in_threadpool(
        lambda: list_all_orders(db.lagging(), query.found, before=before, after=after)
    )
    providers = await run_in_threadpool(provider_names, db)
    context = {
        "page": found,
        "query": query,
        "statuses": ORDER_STATUSES,
        "forward_filters": FORWARD_FILTERS,
        "providers": providers,
        "bulk": bulk,
        "bulk_actions": BULK_ACTIONS,
        "notice": notice if notice is not None else take_notice(request),
        "base": _list_base(query.given),
        # Where the bulk form sends the browser back to: this very list.
        "back": _list_base(query.given).rstrip("?&")
        + (f"&before={before}" if before else "")
        + (f"&after={after}" if after else ""),
    }
    return admin_page(request, LIST, context, status_code=status_code)


def _list_base(values: dict[str, str]) -> str:
    """The list's URL with its filters, to append `before=` or `after=` to."""
    return "/admin/orders?" + (urlencode(values) + "&" if values else "")


async def detail_page(
    request: Request,
    order_id: int,
    *,
    failed: tuple[str, Any] | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    """One order's page; `failed` is (action, its form) when that action's
    input was wrong, shown with its messages."""
    db = admin_context(request).db
    row = await run_in_threadpool(admin_order_row, db, order_id)
    if row is None:
        raise HTTPException(404, "Incorrect order ID")
    history = await run_in_threadpool(order_history, db, order_id)
    calls = await run_in_threadpool(order_calls, db, order_id)
    providers = await run_in_threadpool(provider_names, db)
    forms: dict[str, Any] = {
        "resolve": ResolveForm(request, prefix="resolve"),
        "partial": PartialForm(request, prefix="partial"),
        "cancel": NoteForm(request, prefix="cancel"),
        "adopt": AdoptForm(request, prefix="adopt"),
    }
    if failed is not None:
        forms[failed[0]] = failed[1]
    active = row.status in ACTIVE_STATUSES
    offered = {
        "resolve": True,
        "partial": active,
        "cancel": active,
        "resend": active and row.forward_state in RESENDABLE,
        "reconcile": active and row.forward_state == ForwardState.FAILED,
        "adopt": row.forward_state in ADOPTABLE,
    }
    context = {
        "order": row,
        "history": history,
        "calls": calls,
        "provider": providers.get(row.provider_id or 0),
        "forms": forms,
        "offered": offered,
        "refusal": refusal,
        "notice": take_notice(request),
    }
    return admin_page(request, DETAIL, context, status_code=status_code)
