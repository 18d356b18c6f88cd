"""Forms of the admin's settings.  Bounds only: the panel's commands say which
values they take, and their refusals are shown beside the form."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from smmpanel.panel.site import MAX_TEXT
from smmpanel.web.forms import Form


class SettingForm(Form):
    key = StringField("Setting", [DataRequired(), Length(max=64)])
    # Longer than a setting's 255 characters, so that the domain's message explains it.
    value = StringField("Value", [Optional(), Length(max=1000)])


class TextForm(Form):
    key = StringField("Text", [DataRequired(), Length(max=32)])
    language = StringField("Language", [Optional(), Length(max=8)])
    text = TextAreaField("Text", [Optional(), Length(max=MAX_TEXT + 1000)])


class CurrencyForm(Form):
    code = StringField("Currency", [DataRequired(), Length(max=16)])
    rate = StringField("Exchange rate", [DataRequired(), Length(max=40)])


class BaseCurrencyForm(Form):
    code = StringField("Currency", [DataRequired(), Length(max=16)])
