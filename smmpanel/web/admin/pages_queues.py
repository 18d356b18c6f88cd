"""The admin's queues: refill and cancel requests, deposits held or awaiting a
manual approval, and orders whose forwarding needs staff; each a tab with its
count, ticked items decided in bulk (each its own transaction) and a summary
("3 done, 1 refused: ...") after the redirect.

Who sees which tab: refills and cancels HANDLE_REQUESTS (support too),
deposits MOVE_MONEY, orders CHANGE_ORDERS (smmpanel/staff/roles.py)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.db import Database
from smmpanel.orders import queues
from smmpanel.payments.awaiting import count_deposits_awaiting, deposits_awaiting
from smmpanel.providers.queries import forwarding_of
from smmpanel.staff.logins import StaffUser
from smmpanel.staff.roles import Permission, allowed
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.queue_actions import TABS, Tab, decide_each
from smmpanel.web.forms_queues import BadInput, read_decision
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect

SUMMARY = "queue_summary"


def _tab(name: str | None, staff: StaffUser) -> Tab:
    """The tab asked for (the first the role may see when none): 404 for an
    unknown one, 403 for one the role may not open."""
    if not name:
        return next(tab for tab in TABS.values() if allowed(staff.role, tab.permission))
    tab = TABS.get(name)
    if tab is None:
        raise HTTPException(404, "Not found")
    if not allowed(staff.role, tab.permission):
        raise HTTPException(403, "Your role does not allow this page.")
    return tab


def _counts(db: Database, staff: StaffUser) -> dict[str, int | None]:
    """Items waiting in each tab; None for a tab the role may not open."""
    counts = queues.queue_counts(db)
    deposits = None
    if allowed(staff.role, Permission.MOVE_MONEY):
        with db.read() as session:
            deposits = count_deposits_awaiting(session)
    return {
        "refills": counts.refills,
        "cancels": counts.cancels,
        "deposits": deposits,
        "orders": counts.orders if allowed(staff.role, Permission.CHANGE_ORDERS) else None,
    }


def _items(db: Database, tab: Tab) -> dict[str, Any]:
    if tab.name == "refills":
        return {"requests": queues.open_refills(db)}
    if tab.name == "cancels":
        return {"requests": queues.open_cancels(db)}
    if tab.name == "deposits":
        with db.read() as session:
            return {"deposits": deposits_awaiting(session)}
    orders = queues.orders_needing_staff(db)
    providers = forwarding_of(db, [order.id for order in orders])
    return {"orders": orders, "providers": {k: v.provider for k, v in providers.items()}}


def _queue_context(db: Database, staff: StaffUser, tab: Tab) -> dict[str, Any]:
    return {
        "tab": tab,
        "tabs": [t for t in TABS.values() if allowed(staff.role, t.permission)],
        "counts": _counts(db, staff),
        "limit": queues.QUEUE_LIMIT,
        **_items(db, tab),
    }


async def _queue_page(
    request: Request, staff: StaffUser, tab: Tab, *, error: str = "", status_code: int = 200
) -> Response:
    context = await run_in_threadpool(_queue_context, admin_context(request).db, staff, tab)
    summary = request.session.pop(SUMMARY, None)
    if not isinstance(summary, dict) or summary.get("tab") != tab.name:
        summary = None
    return admin_page(
        request,
        "admin/queues.html",
        {**context, "summary": summary, "error": error},
        status_code=status_code,
    )


async def queue(request: Request) -> Response:
    staff = require_staff(request, Permission.HANDLE_REQUESTS)
    return await _queue_page(request, staff, _tab(request.query_params.get("tab"), staff))


@csrf_protected
async def decide(request: Request) -> Response:
    """Approve, reject (or resend, cancel, adopt) the ticked items of a tab."""
    staff = require_staff(request, Permission.HANDLE_REQUESTS)
    tab = _tab(request.path_params["tab"], staff)
    try:
        decision = read_decision(await request.form(), tab.actions)
    except BadInput as exc:
        return await _queue_page(request, staff, tab, error=str(exc), status_code=400)
    summary = await run_in_threadpool(
        decide_each, admin_context(request).db, tab, decision, staff.actor
    )
    request.session[SUMMARY] = {"tab": tab.name, **summary.as_session()}
    return redirect(f"/admin/queues?tab={tab.name}")


def routes() -> list[Route]:
    return [
        Route("/queues", queue),
        Route("/queues/{tab}", decide, methods=["POST"]),
    ]
