"""Services: create, edit, their Russian texts, enable or disable one."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.catalog.categories import list_categories
from smmpanel.catalog.errors import ServiceNotFound, UnknownServiceType
from smmpanel.catalog.queries import ServiceView, list_services
from smmpanel.catalog.service import ServiceSpec, create_service, update_service
from smmpanel.catalog.translations import set_service_translation
from smmpanel.catalog.types import SERVICE_TYPES, ServiceType, service_type
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import format_rate
from smmpanel.providers.service_sources import provider_names, service_sources
from smmpanel.web.admin.access import admin_page
from smmpanel.web.admin.catalog_common import CATALOG, catalog_db, catalog_staff, path_id
from smmpanel.web.admin.forms_catalog import (
    MappingForm,
    NewServiceForm,
    ServiceForm,
    TranslationForm,
)
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal

# The form's fields that are the service's own (ServiceSpec's names).
FIELDS = (
    "name",
    "type",
    "category",
    "rate",
    "min_quantity",
    "max_quantity",
    "refill_days",
    "dripfeed",
    "refill",
    "cancel",
    "link_required",
    "enabled",
    "description",
)


def type_of(name: object) -> ServiceType | None:
    """The type of that name, for the hint under the type (None: unknown)."""
    try:
        return service_type(str(name or ""))
    except UnknownServiceType:
        return None


async def type_hint(request: Request) -> Response:
    """What a type takes: htmx asks when the form's type changes."""
    catalog_staff(request)
    kind = type_of(request.query_params.get("type", "")[:64])
    return admin_page(request, "admin/catalog_type_hint.html", {"kind": kind})


def service_path(service_id: int) -> str:
    return f"{CATALOG}/services/{service_id}"


def _find_service(db: Database, service_id: int) -> ServiceView | None:
    views = list_services(db, enabled_only=False, with_translations=True)
    return next((view for view in views if view.id == service_id), None)


async def service_view(request: Request) -> ServiceView:
    found = await run_in_threadpool(
        _find_service, catalog_db(request), path_id(request, "service_id")
    )
    if found is None:
        raise HTTPException(404, "No such service in the catalog.")
    return found


async def category_names(request: Request) -> list[str]:
    return [c.name for c in await run_in_threadpool(list_categories, catalog_db(request))]


def _changes(form: ServiceForm) -> dict[str, Any]:
    values = {name: form[name].data for name in FIELDS}
    values["name"] = (values["name"] or "").strip()
    values["rate"] = (values["rate"] or "").strip()
    values["description"] = values["description"] or ""
    return values


@csrf_protected
async def new(request: Request) -> Response:
    staff = catalog_staff(request)
    form = await NewServiceForm.from_formdata(request, categories=await category_names(request))
    if request.method == "GET":
        form.category.data = request.query_params.get("category", "")
    elif await form.validate_on_submit():
        name_ru = (form.name_ru.data or "").strip()
        description_ru = (form.description_ru.data or "").strip()
        spec = ServiceSpec(
            **_changes(form),
            name_lang={"ru": name_ru} if name_ru else {},
            description_lang={"ru": description_ru} if description_ru else {},
        )
        try:
            service_id = await run_in_threadpool(
                create_service, catalog_db(request), spec=spec, actor=staff.actor
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{service_path(service_id)}?done=created")
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(
        request,
        "admin/catalog_service_new.html",
        {"form": form, "types": SERVICE_TYPES, "type_of": type_of},
        status_code=status,
    )


async def service_page(
    request: Request,
    service: ServiceView,
    *,
    form: ServiceForm | None = None,
    translation_form: TranslationForm | None = None,
    mapping_form: MappingForm | None = None,
    status_code: int = 200,
) -> Response:
    """A service's page: its fields, its Russian texts, its providers."""
    db = catalog_db(request)
    if form is None:
        form = await ServiceForm.from_formdata(request, categories=await category_names(request))
        for name in FIELDS:
            form[name].data = getattr(service, name, None)
        form.rate.data = format_rate(service.rate)
        form.category.data = service.category
    if translation_form is None:
        translation_form = await TranslationForm.from_formdata(request)
        translation_form.name_ru.data = service.name_lang.get("ru", "")
        translation_form.description_ru.data = service.description_lang.get("ru", "")
    providers = await run_in_threadpool(provider_names, db)
    sources = await run_in_threadpool(service_sources, db, [service.id])
    return admin_page(
        request,
        "admin/catalog_service.html",
        {
            "service": service,
            "form": form,
            "translation_form": translation_form,
            "mapping_form": mapping_form
            or await MappingForm.from_formdata(request, providers=providers),
            "sources": sources.get(service.id, []),
            "types": SERVICE_TYPES,
            "type_of": type_of,
            "done": request.query_params.get("done", ""),
        },
        status_code=status_code,
    )


@csrf_protected
async def edit(request: Request) -> Response:
    staff = catalog_staff(request)
    service = await service_view(request)
    if request.method == "GET":
        return await service_page(request, service)
    form = await ServiceForm.from_formdata(request, categories=await category_names(request))
    if await form.validate_on_submit():
        try:
            await run_in_threadpool(
                update_service,
                catalog_db(request),
                service_id=service.id,
                changes=_changes(form),
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{service_path(service.id)}?done=saved")
    return await service_page(request, service, form=form, status_code=400)


@csrf_protected
async def translations(request: Request) -> Response:
    """The Russian name and description; an empty text removes it."""
    staff = catalog_staff(request)
    service = await service_view(request)
    form = await TranslationForm.from_formdata(request)
    if await form.validate_on_submit():
        try:
            await run_in_threadpool(
                set_service_translation,
                catalog_db(request),
                service_id=service.id,
                lang="ru",
                name=form.name_ru.data,
                description=form.description_ru.data,
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{service_path(service.id)}?done=translated")
    return await service_page(request, service, translation_form=form, status_code=400)


@csrf_protected
async def enabled(request: Request) -> Response:
    """The list's switch: `enabled=on` shows the service to customers, `off` hides it."""
    staff = catalog_staff(request)
    service_id = path_id(request, "service_id")
    wanted = (await request.form()).get("enabled")
    if wanted not in ("on", "off"):
        raise HTTPException(400, "Show or hide a service: on or off.")
    try:
        await run_in_threadpool(
            update_service,
            catalog_db(request),
            service_id=service_id,
            changes={"enabled": wanted == "on"},
            actor=staff.actor,
        )
    except ServiceNotFound:
        raise HTTPException(404, "No such service in the catalog.") from None
    done = "enabled" if wanted == "on" else "disabled"
    return redirect(f"{CATALOG}?done={done}#service-{service_id}")


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/catalog/types", type_hint),
        Route("/catalog/services/new", new, methods=both),
        Route("/catalog/services/{service_id:int}", edit, methods=both),
        Route("/catalog/services/{service_id:int}/translations", translations, methods=["POST"]),
        Route("/catalog/services/{service_id:int}/enabled", enabled, methods=["POST"]),
    ]
