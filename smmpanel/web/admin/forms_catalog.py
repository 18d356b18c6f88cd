"""The catalog section's forms.  Only the shape of the input is checked here
(present, bounded, a number where one is wanted); the catalog's commands keep
their own rules, and their refusals are shown above the form."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    Field,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from smmpanel.catalog.bulk import MAX_BULK
from smmpanel.catalog.service import MAX_QUANTITY, MAX_REFILL_DAYS, MAX_SERVICE_ID
from smmpanel.catalog.translations import MAX_DESCRIPTION
from smmpanel.catalog.types import DEFAULT, TYPE_NAMES, service_type
from smmpanel.money import MoneyError, parse_rate
from smmpanel.web.forms import Form
from smmpanel.web.i18n import gettext_

_NAME = Length(max=255)
_DESCRIPTION = Length(max=MAX_DESCRIPTION)
_QUANTITY = NumberRange(min=1, max=MAX_QUANTITY)


def _exact_rate(form: Form, field: Field) -> None:
    """A price per 1000 the catalog can store, exactly (never rounded)."""
    try:
        parse_rate(field.data, what="rate")
    except MoneyError as exc:
        raise ValidationError(gettext_(str(exc))) from None


class CategoryForm(Form):
    name = StringField("Category name", [DataRequired(), _NAME])


class CategoryEditForm(Form):
    name = StringField("Category name", [DataRequired(), _NAME])
    name_ru = StringField("Name in Russian", [_NAME])


class ServiceForm(Form):
    """Everything that defines a service; the category is chosen from those that
    exist (new ones are made with the category form)."""

    name = StringField("Name of the service", [DataRequired(), _NAME])
    # Changing the type shows what it takes (admin/catalog_type_hint.html).
    type = SelectField(
        "Type",
        choices=list(TYPE_NAMES),
        default=DEFAULT,
        render_kw={
            "hx-get": "/admin/catalog/types",
            "hx-target": "#type-hint",
            "hx-swap": "outerHTML",
            "hx-trigger": "change",
        },
    )
    category = SelectField("Category", choices=[], default="")
    rate = StringField(
        "Rate per 1000",
        [DataRequired(), Length(max=32), _exact_rate],
        render_kw={"inputmode": "decimal"},
    )
    min_quantity = IntegerField("Minimum quantity", [InputRequired(), _QUANTITY])
    max_quantity = IntegerField("Maximum quantity", [InputRequired(), _QUANTITY])
    refill_days = IntegerField(
        "Refill window in days (empty: the panel's)",
        [Optional(), NumberRange(min=1, max=MAX_REFILL_DAYS)],
    )
    dripfeed = BooleanField("Drip-feed allowed")
    refill = BooleanField("Refill requests allowed")
    cancel = BooleanField("Cancel requests allowed")
    link_required = BooleanField("Orders need a link", default=True)
    enabled = BooleanField("Shown to customers", default=True)
    description = TextAreaField("Description for customers", [_DESCRIPTION])

    def __init__(self, *args: Any, categories: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = categories

    def validate_max_quantity(self, field: Field) -> None:
        low = self.min_quantity.data
        if low is not None and field.data is not None and field.data < low:
            raise ValidationError(gettext_("The maximum is below the minimum."))

    def validate_dripfeed(self, field: Field) -> None:
        # Drip-feed is offered only where the type takes it (see catalog/types.py).
        if (
            field.data
            and self.type.data in TYPE_NAMES
            and not service_type(self.type.data).dripfeed
        ):
            raise ValidationError(gettext_("This type does not take drip-feed."))


class NewServiceForm(ServiceForm):
    """A new service may carry its Russian texts at once (one command)."""

    name_ru = StringField("Name in Russian", [_NAME])
    description_ru = TextAreaField("Description in Russian", [_DESCRIPTION])


class TranslationForm(Form):
    name_ru = StringField("Name in Russian", [_NAME])
    description_ru = TextAreaField("Description in Russian", [_DESCRIPTION])


class BulkForm(Form):
    """The services ticked on the catalog page and what to do with them all."""

    service = SelectMultipleField(coerce=int, validate_choice=False)
    action = SelectField(
        "With the selected services",
        choices=["enable", "disable", "move"],
    )
    category = SelectField("Category", choices=[], default="")

    def __init__(self, *args: Any, categories: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only categories that exist: a bulk move never makes a new one.
        self.category.choices = ["", *categories]

    def validate_service(self, field: Field) -> None:
        ids = field.data or []
        if not ids:
            raise ValidationError(gettext_("Tick at least one service."))
        if len(ids) > MAX_BULK or any(not 1 <= i <= MAX_SERVICE_ID for i in ids):
            raise ValidationError(gettext_("Too many services, or an unknown one."))

    def validate_category(self, field: Field) -> None:
        if self.action.data == "move" and not (field.data or "").strip():
            raise ValidationError(gettext_("Choose the category to move them to."))


class MappingForm(Form):
    provider = SelectField("Provider to add", choices=[])
    upstream_service = StringField("Service id at the provider", [DataRequired(), Length(max=64)])

    def __init__(self, *args: Any, providers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider.choices = providers


class MoveForm(Form):
    """An arrow: up or down (the CSRF token comes with it)."""

    direction = SelectField(choices=["up", "down"])


class ProviderChoiceForm(Form):
    provider = StringField([DataRequired(), Length(max=64)])
    direction = SelectField(choices=["up", "down", ""], default="")
