"""The price-sync report: what repricing would change with the catalogues as
last read (`review_prices`), applied to one service or to all with the
mappings' markup rule (`apply_reviewed_prices`), and a button that reads every
provider's catalogue now.  The worker's hourly `price_sync` job does the same
read and apply by itself; this page shows what is waiting in between."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.providers import overview
from smmpanel.providers.catalog_sync import read_provider_catalog
from smmpanel.providers.price_sync import apply_reviewed_prices, review_prices
from smmpanel.web.admin.access import admin_context, admin_page
from smmpanel.web.admin.providers_common import BASE, MAX_ID, manager
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, refusal_text

PRICES = f"{BASE}/prices"
APPLIED = {"all": "The new rates are applied.", "one": "The new rate is applied."}


async def prices(request: Request) -> Response:
    manager(request)
    return await _report_page(request)


async def _report_page(
    request: Request, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    db = admin_context(request).db
    report = await run_in_threadpool(_report, db)
    return admin_page(
        request,
        "admin/providers_prices.html",
        {
            "report": report,
            "errors": errors or {},
            "notice": APPLIED.get(request.query_params.get("done", ""), ""),
            "checked": request.query_params.get("done") == "checked",
        },
        status_code=status_code,
    )


def _report(db: Database) -> overview.PriceReport:
    return overview.price_report(db, review_prices(db))


@csrf_protected
async def apply(request: Request) -> Response:
    """Apply the waiting repricing: of the service posted, or of all (none posted)."""
    staff = manager(request)
    text = (await request.form()).get("service")
    service_ids = None
    if text is not None:
        if not (isinstance(text, str) and text.isascii() and text.isdigit()):
            raise HTTPException(400, "not a service id")
        if not 0 < int(text) <= MAX_ID:
            raise HTTPException(400, "not a service id")
        service_ids = [int(text)]
    try:
        await run_in_threadpool(
            apply_reviewed_prices,
            admin_context(request).db,
            service_ids=service_ids,
            actor=staff.actor,
        )
    except DomainError as exc:
        return await _report_page(request, errors={"": refusal_text(exc)}, status_code=400)
    return redirect(f"{PRICES}?done={'all' if service_ids is None else 'one'}")


@csrf_protected
async def check(request: Request) -> Response:
    """Read every provider's catalogue now (nothing is repriced: see the report)."""
    manager(request)
    db = admin_context(request).db
    errors: dict[str, str] = {}
    for row in await run_in_threadpool(overview.provider_rows, db):
        try:
            await run_in_threadpool(read_provider_catalog, db, provider_name=row.name)
        except DomainError as exc:
            errors[row.name] = refusal_text(exc)
    if errors:
        return await _report_page(request, errors=errors, status_code=502)
    return redirect(f"{PRICES}?done=checked")
