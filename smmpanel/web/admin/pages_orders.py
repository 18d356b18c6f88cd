"""The admin's orders section: the list of every order (filters, search, keyset
pages, checkboxes for the bulk actions) and one order's page with its whole
history.  Rendering is in orders_views.py, the actions in orders_actions.py."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.staff.roles import Permission
from smmpanel.web.admin import orders_actions
from smmpanel.web.admin.access import require_staff
from smmpanel.web.admin.forms_orders import BulkForm, number_of
from smmpanel.web.admin.orders_views import detail_page, list_page


async def orders(request: Request) -> Response:
    require_staff(request, Permission.VIEW_ORDERS)
    return await list_page(request, await BulkForm.from_formdata(request))


async def order(request: Request) -> Response:
    require_staff(request, Permission.VIEW_ORDERS)
    order_id = number_of(request.path_params["order_id"])
    if order_id is None:
        raise HTTPException(404, "Incorrect order ID")
    return await detail_page(request, order_id)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/orders", orders),
        Route("/orders/bulk", orders_actions.bulk, methods=both),
        Route("/orders/{order_id}", order),
        Route("/orders/{order_id}/{action:str}", orders_actions.single, methods=both),
    ]
