"""What the providers pages share: the provider of the URL, the detail page
(also shown with a refusal when an action on it fails) and the notices shown
after an action."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.errors import DomainError
from smmpanel.providers import overview
from smmpanel.providers.errors import ProviderNotFound, ProviderUnavailable
from smmpanel.providers.overview import ProviderRow
from smmpanel.staff.logins import StaffUser
from smmpanel.staff.roles import Permission
from smmpanel.web.admin.access import admin_context, admin_page, require_staff
from smmpanel.web.pages import refusal_text

MAX_ID = 2**31 - 1
BASE = "/admin/providers"
# What a redirect after an action asks the detail page to say (?done=...).
NOTICES = {
    "added": "The provider is added.",
    "changed": "The provider is changed.",
    "paused": "The provider is paused: orders for it wait.",
    "resumed": "The provider is resumed: waiting orders are sent now.",
    "balance": "The balance is read.",
    "catalog": "The catalogue is read.",
    "imported": "The services are imported.",
}
# The counts a catalogue refresh or an import reports (?new=3&changed=1...).
COUNTS = ("new", "changed", "gone", "created", "failed")


def manager(request: Request) -> StaffUser:
    """The staff member, allowed to manage providers (owner or manager)."""
    return require_staff(request, Permission.MANAGE_PROVIDERS)


def provider_id_of(request: Request) -> int:
    provider_id = request.path_params["provider_id"]
    if not isinstance(provider_id, int) or not 0 < provider_id <= MAX_ID:
        raise HTTPException(404, "Not found")
    return provider_id


async def provider_of(request: Request) -> ProviderRow:
    try:
        return await run_in_threadpool(
            overview.provider_row, admin_context(request).db, provider_id_of(request)
        )
    except ProviderNotFound:
        raise HTTPException(404, "Not found") from None


def counts_of(request: Request) -> dict[str, int]:
    """The counts of the query string, bounded (anything else is ignored)."""
    found: dict[str, int] = {}
    for name in COUNTS:
        text = request.query_params.get(name, "")
        if text.isascii() and text.isdigit() and len(text) <= 9:
            found[name] = int(text)
    return found


async def detail_page(
    request: Request, provider: ProviderRow, *, refusal: DomainError | None = None
) -> Response:
    db = admin_context(request).db
    health = await run_in_threadpool(overview.provider_health, db, provider.id)
    mappings = await run_in_threadpool(overview.provider_mappings, db, provider.id)
    category = request.query_params.get("category", "")[:255] or None
    catalog = await run_in_threadpool(overview.upstream_catalog, db, provider.id, category=category)
    categories = await run_in_threadpool(overview.upstream_categories, db, provider.id)
    done = request.query_params.get("done", "")
    status = 200
    if refusal is not None:
        status = 502 if isinstance(refusal, ProviderUnavailable) else 400
    return admin_page(
        request,
        "admin/providers_detail.html",
        {
            "provider": provider,
            "health": health,
            "mappings": mappings,
            "catalog": catalog,
            "catalog_limit": overview.CATALOG_LIMIT,
            "categories": categories,
            "category": category or "",
            "notice": NOTICES.get(done, ""),
            "counts": counts_of(request),
            "refusal": refusal_text(refusal) if refusal is not None else "",
        },
        status_code=status,
    )
