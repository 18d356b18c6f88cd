"""Adding and editing a provider (its key write-only), pausing and resuming
it, and reading its balance and catalogue now.

Balance and catalogue are read by a direct call from the page (as `smmpanel
providers list` does), in a worker thread, bounded by the provider's timeout:
the owner sees the answer, or why there is none, at once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.errors import DomainError
from smmpanel.providers.catalog_sync import fetch_provider_balance, read_provider_catalog
from smmpanel.providers.service import add_provider, edit_provider, set_provider_status
from smmpanel.web.admin.access import admin_context, admin_page
from smmpanel.web.admin.forms_providers import EditProviderForm, ProviderForm
from smmpanel.web.admin.providers_common import BASE, detail_page, manager, provider_of
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal


def _dialect(form: ProviderForm | EditProviderForm) -> dict[str, Any]:
    """The options of the form; None or "" removes an option (edit_provider)."""
    timeout = form.timeout.data
    return {
        "request_id": True if form.request_id.data else None,
        "lookup_url": (form.lookup_url.data or "").strip() or None,
        "timeout": None if timeout is None else float(timeout),
    }


@csrf_protected
async def add(request: Request) -> Response:
    staff = manager(request)
    form = await ProviderForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        dialect = {k: v for k, v in _dialect(form).items() if v is not None}
        try:
            provider_id = await run_in_threadpool(
                add_provider,
                admin_context(request).db,
                name=(form.name.data or "").strip(),
                api_url=form.api_url.data or "",
                api_key=form.api_key.data or "",
                method=form.method.data or "post",
                dialect=dialect,
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{BASE}/{provider_id}?done=added")
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(
        request, "admin/providers_form.html", {"form": form, "provider": None}, status_code=status
    )


@csrf_protected
async def edit(request: Request) -> Response:
    staff = manager(request)
    provider = await provider_of(request)
    form = await EditProviderForm.from_formdata(request)
    if request.method == "GET":
        form.api_url.data, form.method.data = provider.api_url, provider.method
        form.request_id.data, form.lookup_url.data = provider.request_id, provider.lookup_url
        if provider.timeout is not None:
            form.timeout.data = Decimal(str(provider.timeout))
    if request.method == "POST" and await form.validate_on_submit():
        try:
            await run_in_threadpool(
                edit_provider,
                admin_context(request).db,
                name=provider.name,
                api_url=form.api_url.data or "",
                method=form.method.data or "post",
                dialect=_dialect(form),
                # Empty: keep the key.  The field is never filled in by the page.
                api_key=(form.api_key.data or "").strip() or None,
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{BASE}/{provider.id}?done=changed")
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(
        request,
        "admin/providers_form.html",
        {"form": form, "provider": provider},
        status_code=status,
    )


async def _set_status(request: Request, *, active: bool) -> Response:
    staff = manager(request)
    provider = await provider_of(request)
    try:
        await run_in_threadpool(
            set_provider_status,
            admin_context(request).db,
            name=provider.name,
            active=active,
            actor=staff.actor,
        )
    except DomainError as exc:
        return await detail_page(request, provider, refusal=exc)
    return redirect(f"{BASE}/{provider.id}?done={'resumed' if active else 'paused'}")


@csrf_protected
async def pause(request: Request) -> Response:
    return await _set_status(request, active=False)


@csrf_protected
async def resume(request: Request) -> Response:
    return await _set_status(request, active=True)


@csrf_protected
async def read_balance(request: Request) -> Response:
    manager(request)
    provider = await provider_of(request)
    try:
        await run_in_threadpool(
            fetch_provider_balance, admin_context(request).db, provider_name=provider.name
        )
    except DomainError as exc:
        return await detail_page(request, provider, refusal=exc)
    return redirect(f"{BASE}/{provider.id}?done=balance")


@csrf_protected
async def read_catalog(request: Request) -> Response:
    manager(request)
    provider = await provider_of(request)
    try:
        diff = await run_in_threadpool(
            read_provider_catalog, admin_context(request).db, provider_name=provider.name
        )
    except DomainError as exc:
        return await detail_page(request, provider, refusal=exc)
    counts = (
        f"new={len(diff.appeared)}&changed={len(diff.rate_changed)}&gone={len(diff.disappeared)}"
    )
    return redirect(f"{BASE}/{provider.id}?done=catalog&{counts}")
