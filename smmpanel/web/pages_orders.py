"""Ordering and following orders: new order (the live price), mass order, the
orders list, one order's page, refill and cancel requests and their lists.

A thin edge: validation, prices, refusals and what an order allows are the
orders context's (place_order, quote_order, listing); these handlers only read
forms, call them, and show their answers beside the fields they are about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.passwords import WebUser
from smmpanel.catalog.queries import ServiceView, list_services
from smmpanel.errors import DomainError
from smmpanel.orders import listing
from smmpanel.orders.models import ORDER_STATUSES
from smmpanel.orders.queries import orders_by_id
from smmpanel.orders.quotes import quote_order
from smmpanel.orders.requests import request_cancel, request_refill
from smmpanel.orders.service import place_order
from smmpanel.web import i18n
from smmpanel.web.guard import csrf_protected
from smmpanel.web.order_fields import DELAYS, field_of, order_fields
from smmpanel.web.pages import db_of, page, redirect, refusal_text, require_user
from smmpanel.web.pages_public import localised

MAX_MASS_LINES = 500
MAX_QUERY = 100
MASS_FORMAT = "a line is: service_id | link | quantity"
# The status tabs of the orders list: (query value, status).
TABS = [("", None)] + [(status.lower().replace(" ", "_"), status) for status in ORDER_STATUSES]


def _actor(user: WebUser) -> str:
    # The actor columns hold 64 characters; usernames may have 64 themselves.
    return f"web:{user.username}"[:64]


def _int(value: object) -> int | None:
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text) or None
    return None


def _text_fields(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _catalog(request: Request, user: WebUser) -> list[ServiceView]:
    views = list_services(  # the order itself is checked on the primary
        db_of(request).lagging(), account_id=user.id, fx_rate=user.fx_rate, with_translations=True
    )
    language = i18n.current_language()
    return [localised(view, language) for view in views]


async def _order_page(
    request: Request,
    user: WebUser,
    picked: dict[str, str],
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form_errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    """The new-order page: the category, search and service pickers, the chosen
    service's facts and the form of its type's fields."""
    catalog = await run_in_threadpool(_catalog, request, user)
    categories = list(dict.fromkeys(view.category for view in catalog))
    category = picked.get("category", "")[:MAX_QUERY]
    query = picked.get("q", "")[:MAX_QUERY].strip()
    shown = [v for v in catalog if not category or v.category == category]
    if query:
        needle = query.casefold()
        shown = [v for v in shown if needle in f"{v.id} {v.name} {v.description}".casefold()]
    service_id = _int(picked.get("service"))
    service = next((v for v in catalog if v.id == service_id), None)
    if service is None and len(shown) == 1:
        service = shown[0]
    if service is not None and service not in shown:
        shown.insert(0, service)
    average = None
    if service is not None:
        took = await run_in_threadpool(
            lambda: listing.average_completion(db_of(request).lagging(), service_id=service.id)
        )
        average = _duration(took) if took is not None else None
    return page(
        request,
        "order_new.html",
        {
            "categories": categories,
            "category": category,
            "query": query,
            "services": shown,
            "service": service,
            "fields": order_fields(service) if service else [],
            "average": average,
            "values": values or {},
            "errors": errors or {},
            "form_errors": form_errors or [],
            "delays": DELAYS,
            "quote": None,
            "refusal": None,
            "field": None,
        },
        status_code=status_code,
    )


@csrf_protected
async def new_order(request: Request) -> Response:
    user = require_user(request)
    if request.method != "POST":
        return await _order_page(request, user, dict(request.query_params))
    form = _text_fields(await request.form())
    service_id = _int(form.get("service"))
    catalog = await run_in_threadpool(_catalog, request, user)
    service = next((v for v in catalog if v.id == service_id), None)
    if service is None:
        return await _order_page(
            request, user, {}, form_errors=[i18n.gettext_("Choose a service.")], status_code=400
        )
    names = [f.name for f in order_fields(service)]
    params = {name: form.get(name, "") for name in names}
    try:
        placed = await run_in_threadpool(
            lambda: place_order(
                db_of(request),
                account_id=user.id,
                service_id=service.id,
                params=params,
                actor=_actor(user),
            )
        )
    except DomainError as exc:
        where = field_of(exc, names)
        return await _order_page(
            request,
            user,
            {"service": str(service.id), "category": form.get("category", "")},
            values=params,
            errors={where: refusal_text(exc)} if where else {},
            form_errors=[] if where else [refusal_text(exc)],
            status_code=400,
        )
    return redirect(f"/orders/{placed.order_id}?placed=1")


def _duration(span: timedelta) -> str:
    """A span as days, hours and minutes (at least a minute), translated."""
    minutes = max(1, round(span.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(i18n.gettext_("%(n)s d") % {"n": days})
    if hours:
        parts.append(i18n.gettext_("%(n)s h") % {"n": hours})
    if minutes or not parts:
        parts.append(i18n.gettext_("%(n)s min") % {"n": minutes})
    return " ".join(parts)


@csrf_protected
async def quote(request: Request) -> Response:
    """The live price of the new-order form (htmx posts the form here as the
    customer types): the charge placing it would make, or the refusal."""
    user = require_user(request)
    if request.method != "POST":
        raise HTTPException(405, "Post the order form.")
    form = _text_fields(await request.form())
    service_id = _int(form.get("service")) or 0
    catalog = await run_in_threadpool(_catalog, request, user)
    service = next((v for v in catalog if v.id == service_id), None)
    context: dict[str, Any] = {"quote": None, "refusal": None, "field": None}
    if service is None:
        context["refusal"] = i18n.gettext_("Choose a service.")
    else:
        names = [f.name for f in order_fields(service)]
        params = {name: form.get(name, "") for name in names}
        try:
            context["quote"] = await run_in_threadpool(
                lambda: quote_order(
                    db_of(request), account_id=user.id, service_id=service.id, params=params
                )
            )
        except DomainError as exc:
            context["refusal"], context["field"] = refusal_text(exc), field_of(exc, names)
    return page(request, "_order_charge.html", context)


@csrf_protected
async def mass_order(request: Request) -> Response:
    user = require_user(request)
    if request.method != "POST":
        return page(request, "order_mass.html", {"text": "", "results": None, "error": None})
    text = _text_fields(await request.form()).get("orders", "")
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines or len(lines) > MAX_MASS_LINES:
        error = i18n.gettext_("Give 1 to 500 orders, one per line.")
        return page(
            request,
            "order_mass.html",
            {"text": text, "results": None, "error": error},
            status_code=400,
        )
    results = await run_in_threadpool(_place_lines, request, user, lines)
    placed = [order_id for _n, _line, order_id, _error in results if order_id]
    views = await run_in_threadpool(orders_by_id, db_of(request), placed, account_id=user.id)
    total = sum(view.charge for view in views.values())
    return page(
        request,
        "order_mass.html",
        {
            "text": "",
            "results": results,
            "error": None,
            "total": total,
            "placed": len(placed),
            "currency": user.currency,
        },
    )


def _place_lines(
    request: Request, user: WebUser, lines: list[tuple[int, str]]
) -> list[tuple[int, str, int | None, str | None]]:
    """Each line is an order of its own, in its own transaction: one refused
    line never keeps another from being placed."""
    results: list[tuple[int, str, int | None, str | None]] = []
    for number, line in lines:
        parts = [part.strip() for part in line.split("|")]
        service_id = _int(parts[0]) if len(parts) == 3 else None
        if service_id is None:
            results.append((number, line, None, i18n.gettext_(MASS_FORMAT)))
            continue
        try:
            placed = place_order(
                db_of(request),
                account_id=user.id,
                service_id=service_id,
                params={"link": parts[1], "quantity": parts[2]},
                actor=_actor(user),
            )
        except DomainError as exc:
            results.append((number, line, None, refusal_text(exc)))
        else:
            results.append((number, line, placed.order_id, None))
    return results


def _paging(request: Request) -> tuple[int | None, int | None]:
    return _int(request.query_params.get("before")), _int(request.query_params.get("after"))


async def orders(request: Request) -> Response:
    user = require_user(request)
    tab = request.query_params.get("status", "")
    statuses = dict(TABS)
    if tab not in statuses:
        tab = ""
    search = request.query_params.get("q", "")[:MAX_QUERY].strip()
    before, after = _paging(request)
    found = await run_in_threadpool(
        lambda: listing.list_account_orders(
            db_of(request).lagging(),  # the order page itself reads the primary
            account_id=user.id,
            status=statuses[tab],
            search=search,
            before=before,
            after=after,
        )
    )
    return page(
        request,
        "orders.html",
        {"page": found, "tabs": TABS, "tab": tab, "search": search},
    )


async def _detail(request: Request, user: WebUser, order_id: int) -> listing.OrderDetail:
    detail = await run_in_threadpool(
        lambda: listing.account_order(db_of(request), account_id=user.id, order_id=order_id)
    )
    if detail is None:
        raise HTTPException(404, "Incorrect order ID")
    return detail


async def order(request: Request) -> Response:
    user = require_user(request)
    order_id = _int(request.path_params["order_id"])
    if order_id is None:
        raise HTTPException(404, "Incorrect order ID")
    detail = await _detail(request, user, order_id)
    done = request.query_params.get("done")
    return page(
        request,
        "order.html",
        {
            "detail": detail,
            "placed": request.query_params.get("placed") == "1",
            "done": done if done in ("refill", "cancel") else None,
            "refusal": None,
        },
    )


@csrf_protected
async def order_request(request: Request) -> Response:
    """A refill or cancel request for one order (a button on its page and in the list)."""
    user = require_user(request)
    if request.method != "POST":
        raise HTTPException(405, "Use the button.")
    order_id = _int(request.path_params["order_id"])
    if order_id is None:
        raise HTTPException(404, "Incorrect order ID")
    what = request.path_params["what"]
    if what not in ("refill", "cancel"):
        raise HTTPException(404, "Not found")
    detail = await _detail(request, user, order_id)
    try:
        if what == "refill":
            await run_in_threadpool(
                lambda: request_refill(db_of(request), account_id=user.id, order_id=order_id)
            )
        else:
            await run_in_threadpool(
                lambda: request_cancel(db_of(request), account_id=user.id, order_id=order_id)
            )
    except DomainError as exc:
        context = {"detail": detail, "placed": False, "done": None, "refusal": refusal_text(exc)}
        return page(request, "order.html", context, status_code=400)
    return redirect(f"/orders/{order_id}?done={what}")


async def requests_list(request: Request) -> Response:
    user = require_user(request)
    kind = "refill" if request.url.path == "/refills" else "cancel"
    before, after = _paging(request)
    found = await run_in_threadpool(
        lambda: listing.list_account_requests(
            db_of(request).lagging(), kind=kind, account_id=user.id, before=before, after=after
        )
    )
    return page(request, "requests.html", {"page": found, "kind": kind})


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/order/new", new_order, methods=both),
        Route("/order/quote", quote, methods=both),
        Route("/order/mass", mass_order, methods=both),
        Route("/orders", orders),
        Route("/orders/{order_id}", order),
        Route("/orders/{order_id}/{what:str}", order_request, methods=both),
        Route("/refills", requests_list),
        Route("/cancels", requests_list),
    ]
