"""A customer's page in the admin, drawn for its GET and again by each action
on it: with the posted form and its errors (400), or a secret shown once."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.web.admin.access import admin_context, admin_page
from smmpanel.web.admin.customers_view import account_id_of, load_customer, page_id
from smmpanel.web.admin.forms_customers import (
    ButtonForm,
    CurrencyForm,
    FundForm,
    RateForm,
    ResetLinkForm,
)
from smmpanel.web.forms import Form
from smmpanel.web.forms_account import SUBJECT_LABELS

# What a finished action says on the page it redirects to (?done=...).
DONE = frozenset(
    {"funded", "rate", "suspended", "active", "extended-on", "extended-off", "currency"}
)


async def customer_page(
    request: Request,
    *,
    forms: dict[str, Form] | None = None,
    shown_once: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The customer of the path with its forms (`forms`: the one posted, with
    its errors) and, on the answer to a post, a key or link shown this once."""
    account_id = account_id_of(request)
    ledger_before = page_id(request.query_params.get("ledger_before"))
    view = await run_in_threadpool(
        load_customer,
        admin_context(request).db,
        account_id=account_id,
        ledger_before=ledger_before,
    )
    if view is None:
        raise HTTPException(404, "No such customer.")
    given = forms or {}
    currency_form = given.get("currency") or await fresh(
        CurrencyForm, request, data={"currency": view.card.currency}
    )
    currency_form.currency.choices = view.currencies
    context: dict[str, Any] = {
        "view": view,
        "card": view.card,
        "fund_form": given.get("fund") or await fresh(FundForm, request),
        "rate_form": given.get("rate") or await fresh(RateForm, request),
        "currency_form": currency_form,
        "link_form": given.get("link") or await fresh(ResetLinkForm, request),
        "button_form": await fresh(ButtonForm, request),
        "done": request.query_params.get("done", "") if forms is None else "",
        "done_keys": DONE,
        "shown_once": shown_once or {},
        "ledger_before": ledger_before,
        "subjects": SUBJECT_LABELS,
    }
    response = admin_page(request, "admin/customer.html", context, status_code=status_code)
    if shown_once:
        # A key or a link on this answer only: no cache keeps it.
        response.headers["cache-control"] = "no-store"
    return response


async def fresh(form: type[Form], request: Request, **kwargs: Any) -> Form:
    """An empty form (not filled from another form's post)."""
    return await form.from_formdata(request, formdata=None, **kwargs)
