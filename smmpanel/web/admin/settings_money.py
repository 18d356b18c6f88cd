"""Settings about money: the base currency (only on an empty panel: the
domain refuses otherwise), currencies and their rates, and the payment
gateways (enable, disable, set fields; a secret field is write-only: left
empty, the stored secret is kept)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.service import set_currency_rate
from smmpanel.catalog.pricing import set_base_currency
from smmpanel.errors import DomainError
from smmpanel.payments.setup import (
    COMMON_FIELDS,
    configure_gateway,
    disable_gateway,
    enable_gateway,
    gateway_fields,
)
from smmpanel.web.admin import settings_page as base
from smmpanel.web.admin.access import admin_context
from smmpanel.web.admin.forms_settings import BaseCurrencyForm, CurrencyForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, refusal_text

SETTINGS = "/admin/settings"
MAX_CODE = 40  # a gateway's code in the URL


@csrf_protected
async def base_currency(request: Request) -> Response:
    staff = base.owner(request)
    form = await BaseCurrencyForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await base.refused(request, "currencies", base.form_problem(form))
    try:
        await run_in_threadpool(
            set_base_currency,
            admin_context(request).db,
            code=(form.code.data or "").strip().upper(),
            actor=staff.actor,
        )
    except DomainError as exc:
        return await base.refused(request, "currencies", refusal_text(exc))
    return redirect(f"{SETTINGS}?done=base_currency#currencies")


@csrf_protected
async def currency_rate(request: Request) -> Response:
    staff = base.owner(request)
    form = await CurrencyForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await base.refused(request, "currencies", base.form_problem(form))
    try:
        await run_in_threadpool(
            set_currency_rate,
            admin_context(request).db,
            code=form.code.data or "",
            rate=(form.rate.data or "").strip(),
            actor=staff.actor,
        )
    except DomainError as exc:
        return await base.refused(request, "currencies", refusal_text(exc))
    return redirect(f"{SETTINGS}?done=currency#currencies")


def _code(request: Request) -> str:
    code = request.path_params["code"]
    if len(code) > MAX_CODE or not code.isascii():
        raise HTTPException(404, "Not found")
    return str(code)


@csrf_protected
async def gateway_set(request: Request) -> Response:
    """The gateway's fields as posted; an empty secret field keeps the stored secret."""
    staff = base.owner(request)
    code = _code(request)
    posted = await request.form()
    names = [f.name for f in COMMON_FIELDS]
    secrets = set()
    for own in gateway_fields(code):
        names.append(own.name)
        if own.secret:
            secrets.add(own.name)
    values: dict[str, str] = {}
    for name in names:
        value = posted.get(name)
        if not isinstance(value, str) or (name in secrets and not value.strip()):
            continue
        values[name] = value
    try:
        await run_in_threadpool(
            configure_gateway,
            admin_context(request).db,
            code=code,
            values=values,
            actor=staff.actor,
        )
    except DomainError as exc:
        return await base.refused(request, "gateways", refusal_text(exc))
    return redirect(f"{SETTINGS}?done=gateway#gateway-{code}")


@csrf_protected
async def gateway_switch(request: Request) -> Response:
    staff = base.owner(request)
    code = _code(request)
    switch = request.path_params["switch"]
    if switch not in ("enable", "disable"):
        raise HTTPException(404, "Not found")
    command = enable_gateway if switch == "enable" else disable_gateway
    try:
        await run_in_threadpool(command, admin_context(request).db, code=code, actor=staff.actor)
    except DomainError as exc:
        return await base.refused(request, "gateways", refusal_text(exc))
    return redirect(f"{SETTINGS}?done=gateway#gateway-{code}")


def routes() -> list[Route]:
    post = ["POST"]
    return [
        Route("/settings/base-currency", base_currency, methods=post),
        Route("/settings/currency", currency_rate, methods=post),
        Route("/settings/gateways/{code}", gateway_set, methods=post),
        Route("/settings/gateways/{code}/{switch}", gateway_switch, methods=post),
    ]
