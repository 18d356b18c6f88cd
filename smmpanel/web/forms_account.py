"""Forms of the account-side pages: API key rotation, webhook, support tickets.
Only the input's shape is checked here; the domain's rules refuse the rest."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from smmpanel.support.models import MAX_MESSAGE, SUBJECTS
from smmpanel.web.forms import Form
from smmpanel.web.i18n import gettext_

# The subjects' labels are English msgids, translated when the template renders them.
SUBJECT_LABELS = {
    "order": "Order",
    "payment": "Payment",
    "refill": "Refill",
    "cancel": "Cancel",
    "api": "API / extra fields",
    "other": "Other",
}
assert set(SUBJECT_LABELS) == set(SUBJECTS)


class RotateKeyForm(Form):
    password = PasswordField("Password", [DataRequired(), Length(max=256)])


class WebhookForm(Form):
    # Longer than the domain's 500 so that its own message explains the limit.
    url = StringField("Webhook URL", [DataRequired(), Length(max=2000)])


class NewTicketForm(Form):
    subject = SelectField(
        "Subject", choices=[SelectChoice(key, label) for key, label in SUBJECT_LABELS.items()]
    )
    orders = StringField("Order ids (optional)", [Length(max=1000)])
    message = TextAreaField("Message", [DataRequired(), Length(max=MAX_MESSAGE)])

    def __init__(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        # The options in the page's language (the values stay the domain's).
        self.subject.choices = [
            SelectChoice(key, gettext_(label)) for key, label in SUBJECT_LABELS.items()
        ]


class ReplyForm(Form):
    message = TextAreaField("Message", [DataRequired(), Length(max=MAX_MESSAGE)])
