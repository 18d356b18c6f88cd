"""What staff do to a customer: fund or deduct, own prices, suspend or
reactivate, extended API fields, currency, a new API key, a password link.

Each is a form post, CSRF-checked, allowed by the member's role, done by one
domain command as the member (so the ledger and the audit trail name them),
then a redirect to the customer's page.  Two answer with the page itself
instead: a new API key and a reset link are shown once, on that answer, and
never put in a URL, a cookie or a log."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.directory import CustomerCard, currency_codes, customer_card
from smmpanel.accounts.models import ACTIVE, SUSPENDED
from smmpanel.accounts.passwords import issue_reset_token
from smmpanel.accounts.service import rotate_api_key, set_account_options
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.errors import DomainError
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.funding import fund_account, fund_amount_units
from smmpanel.money import format_units
from smmpanel.orders.account_currency import change_account_currency
from smmpanel.staff.logins import StaffUser
from smmpanel.staff.roles import Permission
from smmpanel.web.admin.access import admin_context, require_staff
from smmpanel.web.admin.customers_page import customer_page
from smmpanel.web.admin.customers_view import account_id_of
from smmpanel.web.admin.forms_customers import (
    CurrencyForm,
    FundForm,
    RateForm,
    ResetLinkForm,
)
from smmpanel.web.guard import csrf_protected
from smmpanel.web.i18n import gettext_
from smmpanel.web.pages import redirect, show_refusal

PAGE = "/admin/customers/{}"


async def _target(request: Request, permission: Permission) -> tuple[StaffUser, CustomerCard]:
    """The member (allowed `permission`, else 403) and the customer of the path (else 404)."""
    staff = require_staff(request, permission)
    card = await run_in_threadpool(
        customer_card, admin_context(request).db, account_id=account_id_of(request)
    )
    if card is None:
        raise HTTPException(404, "No such customer.")
    return staff, card


def _done(card: CustomerCard, what: str) -> Response:
    return redirect(PAGE.format(card.id) + f"?done={what}")


@csrf_protected
async def fund(request: Request) -> Response:
    staff, card = await _target(request, Permission.MOVE_MONEY)
    form = await FundForm.from_formdata(request)
    if await form.validate_on_submit():
        amount, note = (form.amount.data or "").strip(), (form.note.data or "").strip()
        try:
            await run_in_threadpool(
                fund_account,
                admin_context(request).db,
                username=card.username,
                amount=amount,
                note=note,
                actor=staff.actor,
            )
        except InsufficientFunds:
            form.form_errors.append(await _deduct_refusal(request, card, amount))
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return _done(card, "funded")
    return await customer_page(request, forms={"fund": form}, status_code=400)


async def _deduct_refusal(request: Request, card: CustomerCard, amount: str) -> str:
    """Why a deduction was refused, with the balance as it is now."""
    now = await run_in_threadpool(customer_card, admin_context(request).db, account_id=card.id)
    balance = now.balance if now is not None else card.balance
    return gettext_(
        "Cannot deduct %(amount)s %(currency)s: the balance is %(balance)s %(currency)s "
        "and never goes below zero."
    ) % {
        "amount": format_units(-fund_amount_units(amount)),
        "currency": card.currency,
        "balance": format_units(balance),
    }


@csrf_protected
async def rate(request: Request) -> Response:
    staff, card = await _target(request, Permission.CHANGE_CUSTOMERS)
    form = await RateForm.from_formdata(request)
    if await form.validate_on_submit():
        text = (form.rate.data or "").strip()
        try:
            await run_in_threadpool(
                set_custom_rate,
                admin_context(request).db,
                username=card.username,
                service_id=form.service.data or 0,
                rate=text or None,
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return _done(card, "rate")
    return await customer_page(request, forms={"rate": form}, status_code=400)


@csrf_protected
async def status(request: Request) -> Response:
    """Suspend (the API refuses the account's keys) or reactivate."""
    chosen = request.path_params["to"]
    if chosen not in (ACTIVE, SUSPENDED):
        raise HTTPException(404, "No such status.")
    staff, card = await _target(request, Permission.CHANGE_CUSTOMERS)
    await _options(request, card, status=chosen, actor=staff.actor)
    return _done(card, chosen)


@csrf_protected
async def extended(request: Request) -> Response:
    """The extended service fields of the API's `services` answer, on or off."""
    chosen = request.path_params["to"]
    if chosen not in ("on", "off"):
        raise HTTPException(404, "No such choice.")
    staff, card = await _target(request, Permission.CHANGE_CUSTOMERS)
    await _options(request, card, extended_fields=chosen == "on", actor=staff.actor)
    return _done(card, f"extended-{chosen}")


async def _options(request: Request, card: CustomerCard, **options: Any) -> None:
    """`set_account_options` for a button, which has no form to show a refusal
    beside: it answers 400 with the reason (an account renamed or gone meanwhile)."""
    try:
        await run_in_threadpool(
            partial(
                set_account_options, admin_context(request).db, username=card.username, **options
            )
        )
    except DomainError as exc:
        raise HTTPException(400, str(exc)) from None


@csrf_protected
async def currency(request: Request) -> Response:
    staff, card = await _target(request, Permission.CHANGE_CUSTOMERS)
    db = admin_context(request).db
    form = await CurrencyForm.from_formdata(request)
    form.currency.choices = await run_in_threadpool(currency_codes, db)
    if await form.validate_on_submit():
        try:
            await run_in_threadpool(
                change_account_currency,
                db,
                username=card.username,
                currency=form.currency.data or "",
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return _done(card, "currency")
    return await customer_page(request, forms={"currency": form}, status_code=400)


@csrf_protected
async def rotate_key(request: Request) -> Response:
    """Revoke the customer's keys and show the new one on this answer only."""
    staff, card = await _target(request, Permission.CHANGE_CUSTOMERS)
    key = await run_in_threadpool(
        rotate_api_key, admin_context(request).db, username=card.username, actor=staff.actor
    )
    return await customer_page(request, shown_once={"key": key})


@csrf_protected
async def reset_link(request: Request) -> Response:
    """A one-time link that sets the customer's password, shown on this answer
    only (as `smmpanel users reset-link` prints it), for staff to send."""
    staff, card = await _target(request, Permission.CHANGE_CUSTOMERS)
    form = await ResetLinkForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await customer_page(request, forms={"link": form}, status_code=400)
    token = await run_in_threadpool(
        issue_reset_token,
        admin_context(request).db,
        username=card.username,
        ttl=timedelta(hours=form.hours.data or 24),
        actor=staff.actor,
    )
    # The customers' address, as smmpanel.web.links.reset_link builds it for the CLI.
    link = f"{request.app.state.public_url}/reset/{token}"
    return await customer_page(request, shown_once={"link": link, "hours": str(form.hours.data)})


def routes(base: str) -> list[Route]:
    one = base + "/{account_id:int}"
    post = ["POST"]
    return [
        Route(one + "/fund", fund, methods=post),
        Route(one + "/rate", rate, methods=post),
        Route(one + "/status/{to}", status, methods=post),
        Route(one + "/extended/{to}", extended, methods=post),
        Route(one + "/currency", currency, methods=post),
        Route(one + "/rotate-key", rotate_key, methods=post),
        Route(one + "/reset-link", reset_link, methods=post),
    ]
