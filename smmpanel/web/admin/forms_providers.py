"""The providers section's forms.  Only shapes and bounds are checked here; what
makes a URL, a key or a markup acceptable is the domain's rule
(smmpanel.providers.service, catalog_sync_upstream.Markup)."""

from __future__ import annotations

from decimal import Decimal

from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from smmpanel.providers.service import MAX_KEY_LENGTH, METHODS
from smmpanel.web.forms import Form

_URL = Length(max=500)
# A markup of more than 100 times the cost is a typo, not a price (as the CLI's).
MAX_MARKUP_PERCENT = Decimal(10_000)
MAX_FIXED = Decimal(1_000_000)
# An import apply names at most this many upstream services.
MAX_SELECTED = 5000


class ProviderForm(Form):
    """Adding a provider; editing uses EditProviderForm (no name, key optional)."""

    name = StringField("Name", [DataRequired(), Length(max=64)])
    api_url = StringField("API URL", [DataRequired(), _URL])
    # Write-only: the page never fills it in (PasswordField renders no value).
    api_key = PasswordField("API key", [DataRequired(), Length(max=MAX_KEY_LENGTH)])
    method = SelectField("Method", choices=[SelectChoice(m) for m in METHODS], default="post")
    request_id = BooleanField("It honours request_id (another smmpanel)")
    lookup_url = StringField("Order look-up URL (optional)", [Optional(), _URL])
    timeout = DecimalField(
        "Seconds per call", [InputRequired(), NumberRange(Decimal("0.1"), Decimal(600))],
        default=Decimal(20), places=None,
    )  # fmt: skip


class EditProviderForm(Form):
    api_url = StringField("API URL", [DataRequired(), _URL])
    api_key = PasswordField(
        "New API key (leave empty to keep the current one)",
        [Optional(), Length(max=MAX_KEY_LENGTH)],
    )
    method = SelectField("Method", choices=[SelectChoice(m) for m in METHODS], default="post")
    request_id = BooleanField("It honours request_id (another smmpanel)")
    lookup_url = StringField("Order look-up URL (optional)", [Optional(), _URL])
    timeout = DecimalField(
        "Seconds per call", [InputRequired(), NumberRange(Decimal("0.1"), Decimal(600))],
        default=Decimal(20), places=None,
    )  # fmt: skip


class ImportForm(Form):
    """The markup rule and what to import; the preview and the apply post it."""

    markup_percent = DecimalField(
        "Markup, percent", [InputRequired(), NumberRange(Decimal(0), MAX_MARKUP_PERCENT)],
        default=Decimal(0), places=None,
    )  # fmt: skip
    markup_fixed = DecimalField(
        "Fixed markup per 1000", [InputRequired(), NumberRange(Decimal(0), MAX_FIXED)],
        default=Decimal(0), places=None,
    )  # fmt: skip
    round_places = IntegerField(
        "Round up to decimals", [InputRequired(), NumberRange(0, 5)], default=2
    )
    category = SelectField("Upstream category", choices=[SelectChoice("", "All")], default="")
    into_category = StringField("Into our category (empty: as upstream)", [Length(max=255)])
    digest = HiddenField("", [Length(max=64)])


def selected_ids(values: list[str]) -> list[str] | None:
    """The upstream ids ticked in a preview (None when too many or malformed)."""
    if len(values) > MAX_SELECTED:
        return None
    ids = [value.strip() for value in values]
    if any(not value or len(value) > 64 or not value.isprintable() for value in ids):
        return None
    return ids
