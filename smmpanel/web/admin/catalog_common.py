"""What the catalog section's handlers share: the catalog as the page shows it,
ids taken from the path, the answer after a change (a redirect, or for htmx the
refreshed list)."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.catalog.categories import CategoryView, list_categories
from smmpanel.catalog.queries import ServiceView, list_services
from smmpanel.catalog.service import MAX_SERVICE_ID
from smmpanel.db import Database
from smmpanel.providers.service_sources import SourceView, service_sources
from smmpanel.staff.logins import StaffUser
from smmpanel.staff.roles import Permission
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.admin.forms_catalog import BulkForm, CategoryForm

CATALOG = "/admin/catalog"
# What the list may say after a change (?done=...); the template has the words.
DONE = frozenset({"category", "moved", "bulk", "enabled", "disabled"})


@dataclass(frozen=True)
class CategoryBlock:
    """A category as the page lists it, with its services in catalog order."""

    category: CategoryView
    services: list[ServiceView] = field(default_factory=list)


@dataclass(frozen=True)
class CatalogListing:
    blocks: list[CategoryBlock]
    sources: dict[int, list[SourceView]]

    @property
    def names(self) -> list[str]:
        return [block.category.name for block in self.blocks]


def catalog_listing(db: Database) -> CatalogListing:
    """Every category (empty ones too) and every service, disabled ones too."""
    categories = list_categories(db)
    services = list_services(db, enabled_only=False, with_translations=True)
    by_name: dict[str, list[ServiceView]] = {c.name: [] for c in categories}
    for service in services:
        by_name.setdefault(service.category, []).append(service)
    blocks = [CategoryBlock(c, by_name[c.name]) for c in categories]
    return CatalogListing(blocks, service_sources(db))


async def listing(request: Request) -> CatalogListing:
    return await run_in_threadpool(catalog_listing, catalog_db(request))


def catalog_db(request: Request) -> Database:
    return admin_context(request).db


def catalog_staff(request: Request) -> StaffUser:
    """Every page of the section takes the catalog permission."""
    return require_staff(request, Permission.MANAGE_CATALOG)


def path_id(request: Request, name: str) -> int:
    """An id from the path; one no row can have is a 404 (never a database error)."""
    value = request.path_params[name]
    if not isinstance(value, int) or not 1 <= value <= MAX_SERVICE_ID:
        raise HTTPException(404, "No such item in the catalog.")
    return value


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def catalog_page(
    request: Request,
    *,
    category_form: CategoryForm | None = None,
    bulk_form: BulkForm | None = None,
    status_code: int = 200,
) -> Response:
    done = request.query_params.get("done", "")
    return admin_page(
        request,
        "admin/catalog.html",
        {
            **await list_context(request, bulk_form),
            "category_form": category_form or await CategoryForm.from_formdata(request),
            "done": done if done in DONE else "",
        },
        status_code=status_code,
    )


async def list_context(request: Request, bulk_form: BulkForm | None = None) -> dict[str, object]:
    """What admin/catalog_list.html (the list and its bulk form) needs."""
    found = await listing(request)
    return {
        "listing": found,
        "bulk_form": bulk_form or await BulkForm.from_formdata(request, categories=found.names),
    }
