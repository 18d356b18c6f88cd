"""Importing a provider's services with a markup: a preview, then the apply.

Both read the catalogue as last read (the detail page's "Read the catalogue
now"), never the provider: the preview is `import_provider_services` with
`dry_run=True`, and the apply is the same call for the ticked services,
refused when the plan's digest is no longer the one previewed (the catalogue
was read again, or the markup changed in the form)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from wtforms.fields.choices import SelectChoice

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.providers import overview
from smmpanel.providers.catalog_sync import ImportResult, import_provider_services
from smmpanel.providers.overview import ProviderRow
from smmpanel.staff.logins import StaffUser
from smmpanel.web.admin.access import admin_context, admin_page
from smmpanel.web.admin.forms_providers import ImportForm, selected_ids
from smmpanel.web.admin.providers_common import BASE, manager, provider_of
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal


@csrf_protected
async def import_services(request: Request) -> Response:
    staff = manager(request)
    provider = await provider_of(request)
    db = admin_context(request).db
    categories = await run_in_threadpool(overview.upstream_categories, db, provider.id)
    form = await ImportForm.from_formdata(request)
    form.category.choices = [SelectChoice("", "All"), *(SelectChoice(c) for c in categories)]
    preview: ImportResult | None = None
    already: list[overview.ImportedLine] = []
    if request.method == "POST" and await form.validate_on_submit():
        posted = await request.form()
        if posted.get("step") == "apply":
            ticked = [v for v in posted.getlist("upstream") if isinstance(v, str)]
            done = await _apply(request, form, provider, staff, ticked)
            if done is not None:
                return done
        preview = await _preview(form, provider, db, staff)
        if preview is not None:
            already = await run_in_threadpool(
                overview.imported_lines, db, provider.id, preview.already_imported
            )
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(
        request,
        "admin/providers_import.html",
        {
            "form": form,
            "provider": provider,
            "preview": preview,
            "already": already,
            "categories": categories,
        },
        status_code=status,
    )


class Options(NamedTuple):
    """The markup rule and the choice of the form, as the domain takes them."""

    percent: Decimal
    fixed: Decimal
    places: int
    category: str | None
    into: str | None

    @classmethod
    def of(cls, form: ImportForm) -> Options:
        return cls(
            form.markup_percent.data or Decimal(0),
            form.markup_fixed.data or Decimal(0),
            form.round_places.data or 0,
            form.category.data or None,
            form.into_category.data or None,
        )


def _import(
    db: Database,
    provider: str,
    options: Options,
    *,
    actor: Actor,
    dry_run: bool = False,
    upstream_ids: list[str] | None = None,
    expect_digest: str | None = None,
) -> ImportResult:
    """One call of the domain's import, on the catalogue as last read."""
    return import_provider_services(
        db,
        provider_name=provider,
        markup_percent=options.percent,
        markup_fixed=options.fixed,
        round_places=options.places,
        category=options.category,
        into_category=options.into,
        refresh=False,
        dry_run=dry_run,
        upstream_ids=upstream_ids,
        expect_digest=expect_digest,
        actor=actor,
    )


async def _preview(
    form: ImportForm, provider: ProviderRow, db: Database, staff: StaffUser
) -> ImportResult | None:
    """The dry run; its digest goes into the form for the apply."""
    try:
        result = await run_in_threadpool(
            _import, db, provider.name, Options.of(form), actor=staff.actor, dry_run=True
        )
    except DomainError as exc:
        show_refusal(form, exc)
        return None
    form.digest.data = result.digest
    return result


async def _apply(
    request: Request,
    form: ImportForm,
    provider: ProviderRow,
    staff: StaffUser,
    ticked: list[str],
) -> Response | None:
    """The import of the ticked services; None: refused, show the preview again."""
    ids = selected_ids(ticked)
    if not ids:
        form.form_errors.append("Tick the services to import.")
        return None
    try:
        result = await run_in_threadpool(
            _import, admin_context(request).db, provider.name, Options.of(form),
            actor=staff.actor, upstream_ids=ids, expect_digest=form.digest.data or "",
        )  # fmt: skip
    except DomainError as exc:
        show_refusal(form, exc)
        return None
    counts = f"created={len(result.created)}&failed={len(result.failed)}"
    return redirect(f"{BASE}/{provider.id}?done=imported&{counts}")
