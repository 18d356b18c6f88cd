"""Pages anyone may open: home (the dashboard once logged in), terms, and the
service list when the owner makes it public."""

from __future__ import annotations

from decimal import Decimal

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.catalog.queries import ServiceView, list_services
from smmpanel.panel.settings import get_setting
from smmpanel.panel.site import read_logo, site_text
from smmpanel.web.i18n import current_language
from smmpanel.web.pages import db_of, page, user_of

MAX_QUERY = 100


async def home(request: Request) -> Response:
    user = user_of(request)
    if user is not None:
        return page(request, "dashboard.html")
    intro = await run_in_threadpool(_text, request, "home")
    return page(request, "home.html", {"intro": paragraphs(intro)})


async def terms(request: Request) -> Response:
    text = await run_in_threadpool(_text, request, "terms")
    return page(request, "terms.html", {"terms": paragraphs(text)})


async def logo(request: Request) -> Response:
    """The owner's logo; its URL carries its version, so it may be cached long."""
    found = await run_in_threadpool(read_logo, db_of(request))
    if found is None:
        raise HTTPException(404, "Not found")
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def _text(request: Request, key: str) -> str:
    with db_of(request).read() as session:
        return site_text(session, key, current_language())


def paragraphs(text: str) -> list[str]:
    """The owner's text as paragraphs: blank lines separate them (the template
    escapes each and keeps its line breaks)."""
    return [part.strip() for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]


async def services(request: Request) -> Response:
    """The catalog, searchable; public only when the owner says so (setting
    public_services), always open to a logged-in customer, in their currency."""
    user = user_of(request)
    if user is None and not request.state.public_services:
        raise HTTPException(404, "Not found")
    query = request.query_params.get("q", "")[:MAX_QUERY].strip()
    views = await run_in_threadpool(
        list_services,
        db_of(request).lagging(),  # a list: a replica may serve it
        account_id=user.id if user else None,
        fx_rate=user.fx_rate if user else Decimal(1),
        with_translations=True,
    )
    language = current_language()
    shown = [localised(view, language) for view in views]
    if query:
        needle = query.casefold()
        shown = [s for s in shown if needle in f"{s.id} {s.name} {s.category}".casefold()]
    currency = user.currency if user else await run_in_threadpool(_base_currency, request)
    return page(
        request,
        "services.html",
        {"services": shown, "query": query, "currency": currency, "total": len(views)},
    )


def localised(view: ServiceView, language: str) -> ServiceView:
    """The service with its name, category and description in `language` where
    the catalog has them."""
    from dataclasses import replace

    return replace(
        view,
        name=view.name_lang.get(language) or view.name,
        category=view.category_lang.get(language) or view.category,
        description=view.description_lang.get(language) or view.description,
    )


def _base_currency(request: Request) -> str:
    with db_of(request).read() as session:
        return get_setting(session, "base_currency")


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/terms", terms),
        Route("/logo", logo),
        Route("/services", services),
    ]
