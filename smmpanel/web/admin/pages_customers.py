"""The admin's customers section: the search list and a customer's page
(customers_page.py draws it; customers_actions.py holds the actions on it)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.directory import MAX_SEARCH, search_accounts
from smmpanel.orders.account_currency import order_counts_for
from smmpanel.staff.roles import Permission
from smmpanel.web.admin import customers_actions
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.customers_page import customer_page
from smmpanel.web.admin.customers_view import page_id

LIST = "/admin/customers"
ROUTE = "/customers"  # within the admin app, mounted at /admin


async def customers(request: Request) -> Response:
    require_staff(request, Permission.VIEW_CUSTOMERS)
    params = request.query_params
    text = params.get("q", "")[:MAX_SEARCH].strip()
    before = page_id(params.get("before"))
    after = page_id(params.get("after"))
    db = admin_context(request).db
    found = await run_in_threadpool(search_accounts, db, text=text, before=before, after=after)
    counts = await run_in_threadpool(order_counts_for, db, [row.id for row in found.rows])
    return admin_page(
        request,
        "admin/customers.html",
        {
            "page": found,
            "counts": counts,
            "q": text,
            # The paging links keep the search (_paging.html appends before= or after=).
            "base": f"{LIST}?{urlencode({'q': text})}&" if text else f"{LIST}?",
        },
    )


async def customer(request: Request) -> Response:
    require_staff(request, Permission.VIEW_CUSTOMERS)
    return await customer_page(request)


def routes() -> list[Route]:
    return [
        Route(ROUTE, customers),
        Route(ROUTE + "/{account_id:int}", customer),
        *customers_actions.routes(ROUTE),
    ]
