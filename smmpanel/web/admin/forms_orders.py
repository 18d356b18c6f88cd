"""The admin's orders forms: the list's filters (a GET query, read by hand and
bounded), the actions on one order and the bulk actions on the checked ones.

Only the shape of the input is checked here; whether an order may take a
status, a resend or an adoption is the domain's rule, and its refusals are
shown on the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from smmpanel.orders.admin_listing import FORWARD_FILTERS, OrderFilter
from smmpanel.orders.models import ORDER_STATUSES
from smmpanel.web import i18n
from smmpanel.web.forms import Form

MAX_COUNT = 10**15  # as the command line's --start-count and --remains
MAX_NUMBER = 999_999_999  # ids in a query or a form (9 digits)
MAX_BULK = 100  # orders one bulk action may touch (two pages)
MAX_TEXT = 100
NOTE = Length(max=500)  # the width of order_events.note
COUNT = [Optional(), NumberRange(min=0, max=MAX_COUNT)]

# Bulk actions: (value, label msgid).  Each runs the single action's command.
BULK_ACTIONS = (
    ("cancel", "Cancel and refund"),
    ("resend", "Resend to the provider"),
    ("reconcile", "Mark for reconciliation"),
    ("status", "Set status"),
)


def _status_choices(blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank), *(SelectChoice(status, status) for status in ORDER_STATUSES)]


def _translated(choices: Any) -> list[SelectChoice]:
    """A select's options in the page's language (WTForms shows labels as given)."""
    return [SelectChoice(choice.value, i18n.gettext_(choice.label)) for choice in choices]


class ResolveForm(Form):
    """Set status, start count and remains by hand (each optional)."""

    status = SelectField("Status", choices=_status_choices("unchanged"), validators=[Optional()])
    start_count = IntegerField("Start count", COUNT)
    remains = IntegerField("Remains", COUNT)
    note = StringField("Note", [NOTE])

    def __init__(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.status.choices = _translated(self.status.choices)


class PartialForm(Form):
    remains = IntegerField(
        "Remains", [DataRequired("Give the remains."), NumberRange(min=1, max=MAX_COUNT)]
    )
    note = StringField("Note", [NOTE])


class NoteForm(Form):
    """Cancel and refund (a note for the order's history)."""

    note = StringField("Note", [NOTE])


class AdoptForm(Form):
    upstream_id = StringField(
        "Upstream order id",
        [
            DataRequired(),
            Length(max=64),
            Regexp(r"^\S+$", message="An upstream order id has no spaces."),
        ],
    )


class BulkForm(Form):
    action = SelectField("Action", choices=[SelectChoice(*pair) for pair in BULK_ACTIONS])
    status = SelectField("Status", choices=_status_choices("—"), validators=[Optional()])
    note = StringField("Note", [NOTE])

    def __init__(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.action.choices = _translated(self.action.choices)
        self.status.choices = _translated(self.status.choices)


def checked_ids(form: FormData) -> list[int] | None:
    """The checked orders' ids, in the list's order; None when any is not an
    id or there are more than MAX_BULK."""
    values = form.getlist("ids")
    if len(values) > MAX_BULK:
        return None
    ids: list[int] = []
    for value in values:
        number = number_of(value)
        if number is None:
            return None
        if number not in ids:
            ids.append(number)
    return ids


def number_of(value: object) -> int | None:
    """A positive number of at most 9 digits, or None."""
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text) or None
    return None


@dataclass
class ListQuery:
    """The list's filters as read from the query string, with what was wrong."""

    found: OrderFilter
    values: dict[str, str] = field(default_factory=dict)  # to fill the form again

    @property
    def given(self) -> dict[str, str]:
        """The filters given, for the list's links."""
        return {name: value for name, value in self.values.items() if value}

    # (msgid, the value given): translated by the page.
    errors: list[tuple[str, str]] = field(default_factory=list)


FILTER_NAMES = ("status", "service", "customer", "provider", "forwarding", "from", "to", "q")


def read_filters(params: QueryParams) -> ListQuery:
    """Bad values are dropped with a message, never a 500."""
    values = {name: params.get(name, "")[:MAX_TEXT].strip() for name in FILTER_NAMES}
    errors: list[tuple[str, str]] = []
    status = values["status"] if values["status"] in ORDER_STATUSES else None
    forwarding = values["forwarding"] if values["forwarding"] in FORWARD_FILTERS else None
    numbers: dict[str, int | None] = {}
    for name in ("service", "provider"):
        numbers[name] = number_of(values[name]) if values[name] else None
        if values[name] and numbers[name] is None:
            errors.append(("Not a number:", values[name]))
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        days[name] = _day(values[name])
        if values[name] and days[name] is None:
            errors.append(("Not a date (YYYY-MM-DD):", values[name]))
    found = OrderFilter(
        status=status,
        service_id=numbers["service"],
        username=values["customer"] or None,
        provider_id=numbers["provider"],
        forward_state=forwarding,
        since=days["from"],
        until=days["to"],
        search=values["q"],
    )
    return ListQuery(found, values, errors)


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
