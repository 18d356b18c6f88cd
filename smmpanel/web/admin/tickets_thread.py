"""A ticket's page in the admin: the thread (with the staff member who wrote
each answer), the answer box (a canned answer fills it, without JavaScript:
?canned=ID), and the actions answer, close and assign."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.models import Account, Currency
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.staff.models import STAFF_ACTIVE
from smmpanel.staff.roles import Permission
from smmpanel.staff.service import list_staff
from smmpanel.support import desk, queries, service
from smmpanel.support.errors import TicketNotFound
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.forms_tickets import (
    AnswerForm,
    AssignForm,
    CurrencyGrantForm,
    RateGrantForm,
)
from smmpanel.web.forms import Form
from smmpanel.web.forms_account import SUBJECT_LABELS
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal

MAX_ID = 2**31 - 1


def positive_id(text: str) -> int | None:
    """An id from a URL: digits, 1 to 2^31-1; else None."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text[:12]) <= MAX_ID:
        return None
    return int(text)


def ticket_id_of(request: Request) -> int:
    found = positive_id(request.path_params["ticket_id"])
    if found is None:
        raise HTTPException(404, "Not found")
    return found


def ticket_path(ticket_id: int) -> str:
    return f"/admin/tickets/{ticket_id}"


def _customer(db: Database, account_id: int) -> dict[str, Any]:
    """What the grant forms show of the ticket's customer, and the currencies."""
    with db.read() as session:
        account = session.get(Account, account_id)
        codes = list(session.scalars(select(Currency.code).order_by(Currency.code)))
    assert account is not None  # a ticket's account is never removed
    return {
        "username": account.username,
        "extended_fields": account.extended_fields,
        "currency": account.currency,
        "currencies": codes,
    }


async def ticket_page(
    request: Request,
    ticket_id: int,
    forms: dict[str, Form] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """The ticket's page; `forms` replaces the blank forms (one refused, with its message)."""
    db = admin_context(request).db
    try:
        thread = await run_in_threadpool(queries.ticket_thread, db, ticket_id=ticket_id)
    except TicketNotFound:
        raise HTTPException(404, "Not found") from None
    members = await run_in_threadpool(list_staff, db)
    canned = await run_in_threadpool(desk.canned_answers, db)
    blank: dict[str, Form] = {
        "answer_form": await AnswerForm.from_formdata(request),
        "assign_form": await AssignForm.from_formdata(request),
        "currency_form": await CurrencyGrantForm.from_formdata(request),
        "rate_form": await RateGrantForm.from_formdata(request),
    }
    chosen = positive_id(request.query_params.get("canned", ""))
    if chosen is not None and request.method == "GET":
        picked = await run_in_threadpool(desk.canned_answer, db, answer_id=chosen)
        if picked is not None:
            blank["answer_form"].message.data = picked.body
    return admin_page(
        request,
        "admin/ticket.html",
        {
            "thread": thread,
            "subjects": SUBJECT_LABELS,
            "members": [m.username for m in members if m.status == STAFF_ACTIVE],
            "canned": canned,
            "customer": await run_in_threadpool(_customer, db, thread.ticket.account_id),
            **blank,
            **(forms or {}),
        },
        status_code=status_code,
    )


async def ticket(request: Request) -> Response:
    require_staff(request, Permission.ANSWER_TICKETS)
    return await ticket_page(request, ticket_id_of(request))


async def refused(
    request: Request, ticket_id: int, name: str, form: Form, exc: DomainError
) -> Response:
    """The ticket's page again, the refused form showing the domain's message."""
    if isinstance(exc, TicketNotFound):
        raise HTTPException(404, "Not found")
    show_refusal(form, exc)
    return await ticket_page(request, ticket_id, {name: form}, status_code=400)


@csrf_protected
async def answer(request: Request) -> Response:
    staff = require_staff(request, Permission.ANSWER_TICKETS)
    ticket_id = ticket_id_of(request)
    form = await AnswerForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await ticket_page(request, ticket_id, {"answer_form": form}, status_code=400)
    try:
        await run_in_threadpool(
            service.reply_as_owner,
            admin_context(request).db,
            ticket_id=ticket_id,
            message=form.message.data or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        return await refused(request, ticket_id, "answer_form", form, exc)
    return redirect(ticket_path(ticket_id))


@csrf_protected
async def close(request: Request) -> Response:
    staff = require_staff(request, Permission.ANSWER_TICKETS)
    ticket_id = ticket_id_of(request)
    try:
        await run_in_threadpool(
            service.close_ticket, admin_context(request).db, ticket_id=ticket_id, actor=staff.actor
        )
    except TicketNotFound:
        raise HTTPException(404, "Not found") from None
    return redirect(ticket_path(ticket_id))


@csrf_protected
async def assign(request: Request) -> Response:
    staff = require_staff(request, Permission.ANSWER_TICKETS)
    ticket_id = ticket_id_of(request)
    form = await AssignForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await ticket_page(request, ticket_id, {"assign_form": form}, status_code=400)
    try:
        await run_in_threadpool(
            desk.assign_ticket,
            admin_context(request).db,
            ticket_id=ticket_id,
            staff_username=(form.staff.data or "").strip() or None,
            actor=staff.actor,
        )
    except DomainError as exc:
        return await refused(request, ticket_id, "assign_form", form, exc)
    return redirect(ticket_path(ticket_id))


def routes() -> list[Route]:
    return [
        Route("/tickets/{ticket_id}", ticket),
        Route("/tickets/{ticket_id}/answer", answer, methods=["POST"]),
        Route("/tickets/{ticket_id}/close", close, methods=["POST"]),
        Route("/tickets/{ticket_id}/assign", assign, methods=["POST"]),
    ]
