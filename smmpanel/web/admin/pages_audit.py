"""The admin's audit log: every change made by staff, scripts and customers,
newest first in keyset pages, filtered by actor, action, subject and dates;
each row's before and after shown as `key: old -> new`.  Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.audit.models import AuditAction
from smmpanel.audit.queries import AuditRow, search_audit
from smmpanel.staff.roles import Permission
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.forms_queues import AUDIT_FIELDS, BadInput, read_audit_query

MISSING = "-"


@dataclass(frozen=True)
class Change:
    key: str
    before: str | None  # None: the value was not there before
    after: str | None  # None: not named after (the value before is context)


def changes(row: AuditRow) -> list[Change]:
    """Each value the row names, with what it was and what it became."""
    before, after = row.before or {}, row.after or {}
    keys = [*before, *(key for key in after if key not in before)]
    return [
        Change(
            key,
            _shown(before[key]) if key in before else None,
            _shown(after[key]) if key in after else None,
        )
        for key in keys
    ]


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return MISSING if value is None else str(value)


def _link(values: dict[str, str], **page: int) -> str:
    query = {key: value for key, value in values.items() if value}
    query.update({key: str(value) for key, value in page.items()})
    return "/admin/audit" + (f"?{urlencode(query)}" if query else "")


async def audit(request: Request) -> Response:
    require_staff(request, Permission.VIEW_AUDIT)
    context: dict[str, Any] = {
        "actions": [a.value for a in AuditAction],
        "changes": changes,
        "newest": None,
        "filter_link": lambda **values: _link(values),
    }
    try:
        wanted = read_audit_query(request.query_params)
    except BadInput as exc:
        values = {name: request.query_params.get(name, "")[:120] for name in AUDIT_FIELDS}
        context.update(values=values, rows=[], error=str(exc), older=None, newer=None)
        return admin_page(request, "admin/audit.html", context, status_code=400)
    found = await run_in_threadpool(
        search_audit,
        admin_context(request).db,
        wanted.where,
        before=wanted.before,
        after=wanted.after,
    )
    context.update(
        values=wanted.values,
        rows=found.rows,
        error="",
        older=None if found.older is None else _link(wanted.values, before=found.older),
        newer=None if found.newer is None else _link(wanted.values, after=found.newer),
        newest=_link(wanted.values) if wanted.before or wanted.after else None,
        filter_link=lambda **values: _link({**wanted.values, **values}),
    )
    return admin_page(request, "admin/audit.html", context)


def routes() -> list[Route]:
    return [Route("/audit", audit)]
