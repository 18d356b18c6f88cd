"""The admin's queue decisions and audit-log filters, read from the request and
bounded here (how many items, how long a reason, which action); whether a
decision may be taken is the domain's rule, asked item by item.

A queue's form posts its ticked items as `id` fields and the button pressed as
`action`: "approve" acts on every ticked item, "approve:12" on item 12 alone
(the row's own button).  Bad input raises `BadInput` with an English msgid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from starlette.datastructures import FormData, QueryParams

from smmpanel.audit.models import AuditAction
from smmpanel.audit.queries import AuditFilter, check_filter_text
from smmpanel.errors import InvalidValue

MAX_ID = 2**31 - 1
# One post decides at most this many items (a queue page shows 200).
MAX_BULK = 200
MAX_REASON = 500
MAX_UPSTREAM_ID = 64
MAX_FILTER = 120


class BadInput(ValueError):
    """Input the page cannot take: shown above the form (400)."""


@dataclass(frozen=True)
class Decision:
    action: str
    ids: list[int]
    reason: str
    upstream_ids: dict[int, str]  # for "adopt": the upstream's order id of each item


def _id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        raise BadInput("Not an item of this queue.")
    return int(text)


def read_decision(form: FormData, actions: tuple[str, ...]) -> Decision:
    """The action (one of `actions`) and the items it is for."""
    pressed = form.get("action")
    pressed = pressed.strip() if isinstance(pressed, str) else ""
    action, _, single = pressed.partition(":")
    if action not in actions:
        raise BadInput("Use the page's buttons.")
    if single:
        ids = [_id(single)]
    else:
        ticked = [value for value in form.getlist("id") if isinstance(value, str)]
        if len(ticked) > MAX_BULK:
            raise BadInput("Too many items at once.")
        ids = list(dict.fromkeys(_id(value.strip()) for value in ticked))
    if not ids:
        raise BadInput("Tick at least one item.")
    reason = form.get("reason")
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if len(reason) > MAX_REASON:
        raise BadInput("The reason is too long.")
    return Decision(action, ids, reason, _upstream_ids(form, ids) if action == "adopt" else {})


def _upstream_ids(form: FormData, ids: list[int]) -> dict[int, str]:
    found = {}
    for item in ids:
        value = form.get(f"upstream-{item}")
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > MAX_UPSTREAM_ID or not text.isprintable() or " " in text:
            raise BadInput("Write the provider's order id.")
        found[item] = text
    return found


@dataclass(frozen=True)
class AuditQuery:
    """The audit log's filters as given (for the form and the links) and as
    the domain's AuditFilter, with the page to show."""

    values: dict[str, str]
    where: AuditFilter
    before: int | None
    after: int | None


AUDIT_FIELDS = ("actor", "action", "subject", "from", "to")


def read_audit_query(params: QueryParams) -> AuditQuery:
    values = {name: params.get(name, "").strip()[:MAX_FILTER] for name in AUDIT_FIELDS}
    try:
        actor = check_filter_text(values["actor"], "actor")
        subject = check_filter_text(values["subject"], "subject")
    except InvalidValue:
        raise BadInput("Write kind:name (staff:olga, account:12) or a kind alone.") from None
    action = None
    if values["action"]:
        try:
            action = AuditAction(values["action"])
        except ValueError:
            raise BadInput("Unknown action.") from None
    until = _day(values["to"])
    where = AuditFilter(
        actor=actor,
        action=action,
        subject=subject,
        since=_day(values["from"]),
        until=None if until is None else until + timedelta(days=1),
    )
    return AuditQuery(values, where, _page_id(params.get("before")), _page_id(params.get("after")))


def _day(text: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInput("A date is written YYYY-MM-DD.") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _page_id(text: str | None) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > MAX_ID + 1:
        raise BadInput("Not a page of this list.")
    return int(text)
