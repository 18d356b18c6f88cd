"""The admin's providers section (permission manage_providers: owner and
manager): the list, a provider's page (settings without the key, balance,
health, its catalogue as last read and our mapping), and the modules beside
this one: providers_manage (add, edit, pause, resume, read now),
providers_import (preview and apply) and providers_prices (the price-sync
report)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.providers import overview
from smmpanel.web.admin import providers_import, providers_manage, providers_prices
from smmpanel.web.admin.access import admin_context, admin_page
from smmpanel.web.admin.providers_common import BASE, detail_page, manager, provider_of


async def providers(request: Request) -> Response:
    manager(request)
    rows = await run_in_threadpool(overview.provider_rows, admin_context(request).db)
    return admin_page(request, "admin/providers.html", {"providers": rows})


async def provider(request: Request) -> Response:
    manager(request)
    return await detail_page(request, await provider_of(request))


def routes() -> list[Route]:
    """Paths inside the admin app (mounted at /admin): BASE without "/admin"."""
    both, post = ["GET", "POST"], ["POST"]
    base = BASE.removeprefix("/admin")
    prices = providers_prices.PRICES.removeprefix("/admin")
    one = base + "/{provider_id:int}"
    return [
        Route(base, providers),
        Route(f"{base}/new", providers_manage.add, methods=both),
        Route(prices, providers_prices.prices),
        Route(f"{prices}/apply", providers_prices.apply, methods=post),
        Route(f"{prices}/check", providers_prices.check, methods=post),
        Route(one, provider),
        Route(f"{one}/edit", providers_manage.edit, methods=both),
        Route(f"{one}/pause", providers_manage.pause, methods=post),
        Route(f"{one}/resume", providers_manage.resume, methods=post),
        Route(f"{one}/balance", providers_manage.read_balance, methods=post),
        Route(f"{one}/catalog", providers_manage.read_catalog, methods=post),
        Route(f"{one}/import", providers_import.import_services, methods=both),
    ]
