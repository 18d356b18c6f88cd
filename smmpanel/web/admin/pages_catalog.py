"""The admin's catalog section: categories in their order with their services,
bulk changes from the list; categories, services and their mappings to
providers are in the catalog_*.py modules beside this one."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from smmpanel.catalog.bulk import update_services
from smmpanel.errors import DomainError
from smmpanel.web.admin import catalog_categories, catalog_mapping, catalog_services
from smmpanel.web.admin.catalog_common import CATALOG, catalog_db, catalog_page, catalog_staff
from smmpanel.web.admin.catalog_services import category_names
from smmpanel.web.admin.forms_catalog import BulkForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal


async def catalog(request: Request) -> Response:
    catalog_staff(request)
    return await catalog_page(request)


BULK_CHANGES: dict[str, dict[str, object]] = {
    "enable": {"enabled": True},
    "disable": {"enabled": False},
}


@csrf_protected
async def bulk(request: Request) -> Response:
    staff = catalog_staff(request)
    form = await BulkForm.from_formdata(request, categories=await category_names(request))
    if await form.validate_on_submit():
        action = form.action.data or ""
        changes = BULK_CHANGES.get(action) or {"category": (form.category.data or "").strip()}
        try:
            await run_in_threadpool(
                update_services,
                catalog_db(request),
                service_ids=form.service.data or [],
                changes=changes,
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{CATALOG}?done=bulk")
    return await catalog_page(request, bulk_form=form, status_code=400)


def routes() -> list[BaseRoute]:
    return [
        Route("/catalog", catalog),
        Route("/catalog/services/bulk", bulk, methods=["POST"]),
        *catalog_categories.routes(),
        *catalog_services.routes(),
        *catalog_mapping.routes(),
    ]
