"""Support tickets: the customer's list (answers not yet read marked), a new
ticket, and a ticket's thread with the reply form.  Another customer's ticket
is a 404, as a missing one."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.errors import DomainError
from smmpanel.support import queries, service
from smmpanel.support.errors import TicketNotFound
from smmpanel.web.forms_account import SUBJECT_LABELS, NewTicketForm, ReplyForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import db_of, page, redirect, require_user, show_refusal

MAX_ID = 2**31 - 1


async def tickets(request: Request) -> Response:
    user = require_user(request)
    rows = await run_in_threadpool(queries.customer_tickets, db_of(request), account_id=user.id)
    return page(request, "tickets.html", {"tickets": rows, "subjects": SUBJECT_LABELS})


@csrf_protected
async def new_ticket(request: Request) -> Response:
    user = require_user(request)
    form = await NewTicketForm.from_formdata(request)
    if request.method == "GET":
        wanted = request.query_params.get("subject")
        if wanted in SUBJECT_LABELS:
            form.subject.data = wanted
        order = request.query_params.get("order", "")
        if order.isascii() and order.isdigit():
            form.orders.data = order[:12]
    if request.method == "POST" and await form.validate_on_submit():
        try:
            ids = service.parse_order_ids(form.orders.data or "")
            ticket_id = await run_in_threadpool(
                service.open_ticket,
                db_of(request),
                account_id=user.id,
                subject_kind=form.subject.data or "",
                message=form.message.data or "",
                order_ids=ids,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"/tickets/{ticket_id}")
    status = 400 if form.errors or form.form_errors else 200
    return page(
        request, "ticket_new.html", {"form": form, "subjects": SUBJECT_LABELS}, status_code=status
    )


def _ticket_id(request: Request) -> int:
    text = request.path_params["ticket_id"]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise HTTPException(404, "Not found")
    return int(text)


@csrf_protected
async def ticket(request: Request) -> Response:
    user = require_user(request)
    ticket_id = _ticket_id(request)
    db = db_of(request)
    form = await ReplyForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        try:
            await run_in_threadpool(
                service.reply_as_customer,
                db,
                account_id=user.id,
                ticket_id=ticket_id,
                message=form.message.data or "",
            )
        except TicketNotFound:
            raise HTTPException(404, "Not found") from None
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"/tickets/{ticket_id}")
    try:
        thread = await run_in_threadpool(
            queries.ticket_thread, db, ticket_id=ticket_id, account_id=user.id
        )
    except TicketNotFound:
        raise HTTPException(404, "Not found") from None
    if thread.ticket.unread_by_customer:
        # Opening the ticket reads its answers: the mark goes on the next page.
        await run_in_threadpool(service.mark_read, db, account_id=user.id, ticket_id=ticket_id)
    status = 400 if form.errors or form.form_errors else 200
    return page(
        request,
        "ticket.html",
        {"thread": thread, "form": form, "subjects": SUBJECT_LABELS},
        status_code=status,
    )


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/tickets", tickets),
        Route("/tickets/new", new_ticket, methods=both),
        Route("/tickets/{ticket_id}", ticket, methods=both),
    ]
