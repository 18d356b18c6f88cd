"""Forms of the admin's ticket desk.  Only the shape of the input is checked
here (present, bounded); the domain says what is acceptable."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from smmpanel.support.models import MAX_MESSAGE
from smmpanel.web.forms import Form

_DIGITS = Regexp(r"^\s*\d{1,10}\s*$", message="A number, like 12.")


class AnswerForm(Form):
    message = TextAreaField("Answer", [DataRequired(), Length(max=MAX_MESSAGE)])


class AssignForm(Form):
    # A staff member's name; empty: nobody.  The page offers the active ones.
    staff = StringField("Assigned to", [Optional(), Length(max=64)])


class CurrencyGrantForm(Form):
    currency = StringField("Currency", [DataRequired(), Length(max=8)])


class RateGrantForm(Form):
    service = StringField("Service id", [DataRequired(), _DIGITS])
    rate = StringField("Own price per 1000", [DataRequired(), Length(max=32)])


class CannedForm(Form):
    # Longer than the domain's limits, so that its own message explains them.
    title = StringField("Title", [DataRequired(), Length(max=200)])
    body = TextAreaField("Text", [DataRequired(), Length(max=MAX_MESSAGE + 100)])
