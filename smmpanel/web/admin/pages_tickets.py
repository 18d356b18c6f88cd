"""The admin's ticket desk: the inbox (filters, keyset pages) and the canned
answers staff keep beside it; a ticket's thread and its actions are in
`tickets_thread`, the grants made from a ticket in `tickets_grants`."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.errors import DomainError
from smmpanel.staff.roles import Permission
from smmpanel.support import desk
from smmpanel.support.inbox import ASSIGNED, InboxFilter, inbox
from smmpanel.support.models import STATUSES
from smmpanel.web.admin import tickets_grants, tickets_thread
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.forms_tickets import CannedForm
from smmpanel.web.admin.tickets_thread import positive_id
from smmpanel.web.forms_account import SUBJECT_LABELS
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal

INBOX = "/admin/tickets"


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    """A filter from the query string: one of `allowed`, else "" (every value)."""
    value = request.query_params.get(name, "")
    return value if value in allowed else ""


def _cursor(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    return positive_id(value)


async def tickets(request: Request) -> Response:
    staff = require_staff(request, Permission.ANSWER_TICKETS)
    return await _inbox_page(request, staff.id)


async def _inbox_page(
    request: Request, staff_id: int, *, form: CannedForm | None = None, status_code: int = 200
) -> Response:
    db = admin_context(request).db
    chosen = {
        "status": _choice(request, "status", STATUSES),
        "subject": _choice(request, "subject", tuple(SUBJECT_LABELS)),
        "assigned": _choice(request, "assigned", ASSIGNED),
    }
    where = InboxFilter(
        status=chosen["status"] or None,
        subject=chosen["subject"] or None,
        assigned=chosen["assigned"] or None,
        staff_id=staff_id,
    )
    page = await run_in_threadpool(
        inbox, db, where, before=_cursor(request, "before"), after=_cursor(request, "after")
    )
    canned = await run_in_threadpool(desk.canned_answers, db)
    query = "&".join(f"{key}={value}" for key, value in chosen.items() if value)
    return admin_page(
        request,
        "admin/tickets.html",
        {
            "page": page,
            "chosen": chosen,
            "statuses": STATUSES,
            "subjects": SUBJECT_LABELS,
            "assigned_choices": ASSIGNED,
            "paging_base": f"{INBOX}?{query}&" if query else f"{INBOX}?",
            "canned": canned,
            "canned_form": form or await CannedForm.from_formdata(request),
        },
        status_code=status_code,
    )


@csrf_protected
async def save_canned(request: Request) -> Response:
    staff = require_staff(request, Permission.ANSWER_TICKETS)
    form = await CannedForm.from_formdata(request)
    if await form.validate_on_submit():
        try:
            await run_in_threadpool(
                desk.save_canned_answer,
                admin_context(request).db,
                title=form.title.data or "",
                body=form.body.data or "",
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(INBOX + "#canned")
    return await _inbox_page(request, staff.id, form=form, status_code=400)


@csrf_protected
async def delete_canned(request: Request) -> Response:
    staff = require_staff(request, Permission.ANSWER_TICKETS)
    answer_id = positive_id(request.path_params["answer_id"])
    if answer_id is None:
        raise HTTPException(404, "Not found")
    done = await run_in_threadpool(
        desk.delete_canned_answer, admin_context(request).db, answer_id=answer_id, actor=staff.actor
    )
    if not done:
        raise HTTPException(404, "Not found")
    return redirect(INBOX + "#canned")


def routes() -> list[Route]:
    return [
        # The admin app is mounted at /admin: its routes are relative to it.
        Route("/tickets", tickets),
        Route("/tickets/canned", save_canned, methods=["POST"]),
        Route("/tickets/canned/{answer_id}/delete", delete_canned, methods=["POST"]),
        *tickets_thread.routes(),
        *tickets_grants.routes(),
    ]
