"""A service's providers: add one (provider and its service id), remove one,
change the order forwarding tries them in.  The mapping belongs to the
providers context; the admin edge calls its commands like the CLI does."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.errors import DomainError
from smmpanel.providers.service import map_service, unmap_service
from smmpanel.providers.service_sources import (
    move_service_source,
    provider_names,
    service_sources,
)
from smmpanel.web.admin.catalog_common import catalog_db, catalog_staff
from smmpanel.web.admin.catalog_services import service_page, service_path, service_view
from smmpanel.web.admin.forms_catalog import MappingForm, ProviderChoiceForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal


@csrf_protected
async def add(request: Request) -> Response:
    """Map the service to a provider's service, tried after those mapped
    already; mapping a provider again changes its upstream id and keeps its
    place and its price-sync markup."""
    staff = catalog_staff(request)
    service = await service_view(request)
    db = catalog_db(request)
    providers = await run_in_threadpool(provider_names, db)
    form = await MappingForm.from_formdata(request, providers=providers)
    if await form.validate_on_submit():
        provider = form.provider.data or ""
        mapped = await run_in_threadpool(service_sources, db, [service.id])
        kept = next((s for s in mapped.get(service.id, []) if s.provider == provider), None)
        try:
            await run_in_threadpool(
                map_service,
                db,
                service_id=service.id,
                provider_name=provider,
                upstream_service_id=(form.upstream_service.data or "").strip(),
                markup_percent=None if kept is None else kept.markup_percent,
                markup_fixed="0" if kept is None else kept.markup_fixed,
                round_places=5 if kept is None else kept.round_places,
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{service_path(service.id)}?done=mapped#providers")
    return await service_page(request, service, mapping_form=form, status_code=400)


@csrf_protected
async def remove(request: Request) -> Response:
    staff = catalog_staff(request)
    service = await service_view(request)
    form = await ProviderChoiceForm.from_formdata(request)
    if not await form.validate_on_submit():
        raise HTTPException(400, "Choose a provider of the service.")
    try:
        removed = await run_in_threadpool(
            unmap_service,
            catalog_db(request),
            service_id=service.id,
            provider_name=form.provider.data or "",
            actor=staff.actor,
        )
    except DomainError:
        removed = False
    if not removed:
        raise HTTPException(404, "The service is not mapped to that provider.")
    return redirect(f"{service_path(service.id)}?done=unmapped#providers")


@csrf_protected
async def move(request: Request) -> Response:
    staff = catalog_staff(request)
    service = await service_view(request)
    form = await ProviderChoiceForm.from_formdata(request)
    if not await form.validate_on_submit() or form.direction.data not in ("up", "down"):
        raise HTTPException(400, "Move a provider up or down.")
    try:
        await run_in_threadpool(
            move_service_source,
            catalog_db(request),
            service_id=service.id,
            provider_name=form.provider.data or "",
            offset=-1 if form.direction.data == "up" else 1,
            actor=staff.actor,
        )
    except DomainError:
        raise HTTPException(404, "The service is not mapped to that provider.") from None
    return redirect(f"{service_path(service.id)}?done=reordered#providers")


def routes() -> list[Route]:
    base = "/catalog/services/{service_id:int}/sources"
    return [
        Route(base, add, methods=["POST"]),
        Route(base + "/remove", remove, methods=["POST"]),
        Route(base + "/move", move, methods=["POST"]),
    ]
