"""Forms of the admin's customer pages.  As on the shop, only the input's shape
is checked here (present, not absurdly long); what makes an amount, a rate or
a currency acceptable is the domain's rule, and its refusals are shown above
the form.  Labels are English msgids, translated when the template renders them."""

from __future__ import annotations

from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from smmpanel.web.forms import Form

# Longer than any amount the domain takes (10^10 with 5 decimals), so that its
# own message explains a huge one instead of a bare "too long".
_AMOUNT = Length(max=40)
MAX_SERVICE_ID = 2**31 - 1
# As `smmpanel users reset-link --hours`: a day by default, two weeks at most.
MAX_LINK_HOURS = 24 * 14


class FundForm(Form):
    amount = StringField(
        "Amount (negative deducts)", [DataRequired(), _AMOUNT], render_kw={"inputmode": "decimal"}
    )
    note = StringField("Note (kept in the ledger)", [Length(max=500)])


class RateForm(Form):
    service = IntegerField("Service id", [InputRequired(), NumberRange(min=1, max=MAX_SERVICE_ID)])
    rate = StringField(
        "Price per 1000 in the base currency (empty removes it)",
        [Optional(), _AMOUNT],
        render_kw={"inputmode": "decimal"},
    )


class CurrencyForm(Form):
    # The choices are the panel's currencies, set by the page (currency_codes).
    currency = SelectField("Currency", [DataRequired()], validate_choice=True)


class ResetLinkForm(Form):
    hours = IntegerField(
        "Hours the link stays valid",
        [InputRequired(), NumberRange(min=1, max=MAX_LINK_HOURS)],
        default=24,
    )


class ButtonForm(Form):
    """Only the button (and the CSRF token): suspend, reactivate, extended
    fields on or off, rotate the key."""
