"""One-click grants from a ticket: extended API fields on, another currency,
an own price for a service.  Each calls the customers' domain command as the
staff member (CHANGE_CUSTOMERS: support staff get 403), then answers the
ticket with a line saying what was granted, so the customer sees it in the
thread (and the audit trail has both rows).

The line is in English: it is stored in the thread as a message, and the
panel keeps no language per customer to write it in."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.service import set_account_options
from smmpanel.audit.models import Actor
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import parse_rate, plain_decimal
from smmpanel.orders.account_currency import change_account_currency
from smmpanel.panel.settings import get_setting
from smmpanel.staff.roles import Permission
from smmpanel.support import queries, service
from smmpanel.support.errors import InvalidTicketInput, TicketNotFound
from smmpanel.web.admin.access import admin_context, require_staff
from smmpanel.web.admin.forms_tickets import CurrencyGrantForm, RateGrantForm
from smmpanel.web.admin.tickets_thread import refused, ticket_id_of, ticket_page, ticket_path
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect


def _customer_name(db: Database, ticket_id: int) -> str:
    try:
        return queries.ticket_thread(db, ticket_id=ticket_id).ticket.username
    except TicketNotFound:
        raise HTTPException(404, "Not found") from None


def grant_extended_fields(db: Database, *, ticket_id: int, actor: Actor) -> None:
    username = _customer_name(db, ticket_id)
    set_account_options(db, username=username, extended_fields=True, actor=actor)
    _tell(
        db, ticket_id, "Granted: the API's services list now shows you the extended fields.", actor
    )


def grant_currency(db: Database, *, ticket_id: int, currency: str, actor: Actor) -> None:
    username = _customer_name(db, ticket_id)
    code = currency.strip().upper()
    if not change_account_currency(db, username=username, currency=code, actor=actor):
        raise InvalidTicketInput(f"the account is in {code} already")
    _tell(db, ticket_id, f"Granted: your account is now kept in {code}.", actor)


def grant_rate(db: Database, *, ticket_id: int, service_id: int, rate: str, actor: Actor) -> None:
    username = _customer_name(db, ticket_id)
    price = parse_rate(rate.strip())
    set_custom_rate(db, username=username, service_id=service_id, rate=price, actor=actor)
    with db.read() as session:
        base = get_setting(session, "base_currency")
    shown = f"{plain_decimal(price)} {base}"
    line = f"Granted: your own price for service {service_id} is {shown} per 1000."
    _tell(db, ticket_id, line, actor)


def _tell(db: Database, ticket_id: int, line: str, actor: Actor) -> None:
    service.reply_as_owner(db, ticket_id=ticket_id, message=line, actor=actor)


@csrf_protected
async def extended(request: Request) -> Response:
    staff = require_staff(request, Permission.CHANGE_CUSTOMERS)
    ticket_id = ticket_id_of(request)
    await run_in_threadpool(
        grant_extended_fields, admin_context(request).db, ticket_id=ticket_id, actor=staff.actor
    )
    return redirect(ticket_path(ticket_id) + "#thread")


@csrf_protected
async def currency(request: Request) -> Response:
    staff = require_staff(request, Permission.CHANGE_CUSTOMERS)
    ticket_id = ticket_id_of(request)
    form = await CurrencyGrantForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await ticket_page(request, ticket_id, {"currency_form": form}, status_code=400)
    try:
        await run_in_threadpool(
            grant_currency,
            admin_context(request).db,
            ticket_id=ticket_id,
            currency=form.currency.data or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        return await refused(request, ticket_id, "currency_form", form, exc)
    return redirect(ticket_path(ticket_id) + "#thread")


@csrf_protected
async def rate(request: Request) -> Response:
    staff = require_staff(request, Permission.CHANGE_CUSTOMERS)
    ticket_id = ticket_id_of(request)
    form = await RateGrantForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await ticket_page(request, ticket_id, {"rate_form": form}, status_code=400)
    try:
        await run_in_threadpool(
            grant_rate,
            admin_context(request).db,
            ticket_id=ticket_id,
            service_id=int((form.service.data or "0").strip()),
            rate=form.rate.data or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        return await refused(request, ticket_id, "rate_form", form, exc)
    return redirect(ticket_path(ticket_id) + "#thread")


def routes() -> list[Route]:
    return [
        Route("/tickets/{ticket_id}/grant/extended", extended, methods=["POST"]),
        Route("/tickets/{ticket_id}/grant/currency", currency, methods=["POST"]),
        Route("/tickets/{ticket_id}/grant/rate", rate, methods=["POST"]),
    ]
