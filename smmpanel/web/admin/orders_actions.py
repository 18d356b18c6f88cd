"""The admin's actions on orders, one at a time (a form on the order's page) or
in bulk (the checked rows of the list).  Each calls the same domain command as
the command line (`smmpanel orders update|resend`, `providers reconcile`) with
the staff member as the actor, so the history and the audit trail name them.
A bulk action runs that command once per order, each in its own transaction:
one refusal never undoes or stops the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.orders.models import CANCELED, PARTIAL
from smmpanel.orders.service import update_order
from smmpanel.providers.forwarding import resend_order
from smmpanel.providers.reconcile import adopt_upstream_order, mark_for_reconciliation
from smmpanel.staff.roles import Permission
from smmpanel.web import i18n
from smmpanel.web.admin.access import admin_context, require_staff
from smmpanel.web.admin.forms_orders import (
    AdoptForm,
    BulkForm,
    NoteForm,
    PartialForm,
    ResolveForm,
    checked_ids,
    number_of,
)
from smmpanel.web.admin.orders_views import detail_page, list_page, put_notice
from smmpanel.web.forms import Form
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import local_path, redirect, refusal_text

# A bulk summary names at most this many refusals (it rides in the session cookie).
MAX_REFUSALS_SHOWN = 10
MAX_REFUSAL = 200

Command = Callable[[Database, int, Any, Actor], bool]


def _resolve(db: Database, order_id: int, form: Any, actor: Actor) -> bool:
    return update_order(
        db,
        order_id=order_id,
        status=form.status.data or None,
        start_count=form.start_count.data,
        remains=form.remains.data,
        note=form.note.data or "",
        actor=actor,
    )


def _partial(db: Database, order_id: int, form: Any, actor: Actor) -> bool:
    note = form.note.data or ""
    return update_order(
        db, order_id=order_id, status=PARTIAL, remains=form.remains.data, note=note, actor=actor
    )


def _cancel(db: Database, order_id: int, form: Any, actor: Actor) -> bool:
    note = form.note.data or ""
    return update_order(db, order_id=order_id, status=CANCELED, note=note, actor=actor)


def _resend(db: Database, order_id: int, _form: Any, actor: Actor) -> bool:
    resend_order(db, order_id=order_id, actor=actor)
    return True


def _reconcile(db: Database, order_id: int, _form: Any, actor: Actor) -> bool:
    mark_for_reconciliation(db, order_id=order_id, actor=actor)
    return True


def _adopt(db: Database, order_id: int, form: Any, actor: Actor) -> bool:
    upstream = (form.upstream_id.data or "").strip()
    adopt_upstream_order(db, order_id=order_id, upstream_order_id=upstream, actor=actor)
    return True


# action -> (its form, its command); the form's fields are prefixed by the action.
SINGLE: dict[str, tuple[type[Form], Command]] = {
    "resolve": (ResolveForm, _resolve),
    "partial": (PartialForm, _partial),
    "cancel": (NoteForm, _cancel),
    "resend": (Form, _resend),
    "reconcile": (Form, _reconcile),
    "adopt": (AdoptForm, _adopt),
}


@csrf_protected
async def single(request: Request) -> Response:
    staff = require_staff(request, Permission.CHANGE_ORDERS)
    if request.method != "POST":
        raise HTTPException(405, "Use the form on the order's page.")
    order_id = number_of(request.path_params["order_id"])
    action = request.path_params["action"]
    if order_id is None or action not in SINGLE:
        raise HTTPException(404, "Not found")
    form_class, command = SINGLE[action]
    form = await form_class.from_formdata(request, prefix=action)
    refusal = None
    if await form.validate_on_submit():
        if action == "resolve" and _nothing_to_set(form):
            refusal = i18n.gettext_("Give a status, a start count or remains.")
        else:
            try:
                changed = await run_in_threadpool(
                    command, admin_context(request).db, order_id, form, staff.actor
                )
            except DomainError as exc:
                refusal = refusal_text(exc)
            else:
                put_notice(request, {"action": action, "done": 1 if changed else 0})
                return redirect(f"/admin/orders/{order_id}")
    return await detail_page(
        request, order_id, failed=(action, form), refusal=refusal, status_code=400
    )


def _nothing_to_set(form: Any) -> bool:
    return not form.status.data and form.start_count.data is None and form.remains.data is None


BULK: dict[str, Command] = {
    "cancel": _cancel,
    "resend": _resend,
    "reconcile": _reconcile,
    "status": _resolve,
}


@csrf_protected
async def bulk(request: Request) -> Response:
    """The checked orders, each through the single action's command."""
    staff = require_staff(request, Permission.CHANGE_ORDERS)
    if request.method != "POST":
        raise HTTPException(405, "Use the form of the orders list.")
    form = await BulkForm.from_formdata(request)
    posted = await request.form()
    ids = checked_ids(posted)
    error = None
    if not await form.validate_on_submit():
        error = None  # the fields show their own messages
    elif ids is None or not ids:
        error = i18n.gettext_("Check 1 to 100 orders.")
    elif form.action.data == "status" and not form.status.data:
        error = i18n.gettext_("Choose the status to set.")
    else:
        action = form.action.data or ""
        done, refused = await run_in_threadpool(
            _run_each, admin_context(request).db, BULK[action], ids, form, staff.actor
        )
        put_notice(
            request,
            {
                "action": action,
                "done": done,
                "refused": refused[:MAX_REFUSALS_SHOWN],
                "refused_count": len(refused),
            },
        )
        back = posted.get("back")
        return redirect(local_path(back if isinstance(back, str) else None, "/admin/orders"))
    form.form_errors.extend([error] if error else [])
    return await list_page(request, form, notice={}, status_code=400)


class _BulkStatus:
    """The bulk form seen as the resolve form: only the status is set."""

    def __init__(self, form: BulkForm) -> None:
        self.status, self.note = form.status, form.note
        self.start_count = self.remains = _NoValue()


class _NoValue:
    data = None


def _run_each(
    db: Database, command: Command, ids: list[int], form: BulkForm, actor: Actor
) -> tuple[int, list[list[Any]]]:
    """(how many were done, [order id, why] of each refused or left unchanged)."""
    given: Any = _BulkStatus(form)
    done, refused = 0, []
    for order_id in ids:
        try:
            changed = command(db, order_id, given, actor)
        except DomainError as exc:
            refused.append([order_id, refusal_text(exc)[:MAX_REFUSAL]])
        else:
            if changed:
                done += 1
            else:  # e.g. canceling a canceled order: said, not counted as done
                refused.append([order_id, i18n.gettext_("nothing changed.")])
    return done, refused
