"""Categories: create, rename and translate, move up or down (arrows that post
a plain form, or with htmx refresh only the list)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.catalog.categories import (
    CategoryView,
    create_category,
    list_categories,
    move_category,
    update_category,
)
from smmpanel.catalog.errors import CategoryNotFound
from smmpanel.errors import DomainError
from smmpanel.web.admin.access import admin_page
from smmpanel.web.admin.catalog_common import (
    CATALOG,
    catalog_db,
    catalog_page,
    catalog_staff,
    is_htmx,
    list_context,
    path_id,
)
from smmpanel.web.admin.forms_catalog import CategoryEditForm, CategoryForm, MoveForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal


@csrf_protected
async def create(request: Request) -> Response:
    staff = catalog_staff(request)
    form = await CategoryForm.from_formdata(request)
    if await form.validate_on_submit():
        try:
            await run_in_threadpool(
                create_category, catalog_db(request), name=form.name.data or "", actor=staff.actor
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{CATALOG}?done=category")
    return await catalog_page(request, category_form=form, status_code=400)


async def _category(request: Request, category_id: int) -> CategoryView:
    found = await run_in_threadpool(list_categories, catalog_db(request))
    for category in found:
        if category.id == category_id:
            return category
    raise HTTPException(404, "No such category.")


@csrf_protected
async def edit(request: Request) -> Response:
    """Rename the category and set (or, empty, remove) its Russian name."""
    staff = catalog_staff(request)
    category = await _category(request, path_id(request, "category_id"))
    form = await CategoryEditForm.from_formdata(request)
    if request.method == "GET":
        form.name.data = category.name
        form.name_ru.data = category.translations.get("ru", "")
    elif await form.validate_on_submit():
        try:
            await run_in_threadpool(
                update_category,
                catalog_db(request),
                category_id=category.id,
                new_name=form.name.data or "",
                translations={"ru": (form.name_ru.data or "").strip() or None},
                actor=staff.actor,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{CATALOG}?done=category")
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(
        request,
        "admin/catalog_category.html",
        {"category": category, "form": form},
        status_code=status,
    )


@csrf_protected
async def move(request: Request) -> Response:
    """One place up or down.  htmx gets the refreshed list; a plain post is
    sent back to the list, at the category moved."""
    staff = catalog_staff(request)
    category_id = path_id(request, "category_id")
    form = await MoveForm.from_formdata(request)
    if not await form.validate_on_submit():
        raise HTTPException(400, "Move a category up or down.")
    try:
        await run_in_threadpool(
            move_category,
            catalog_db(request),
            category_id=category_id,
            offset=-1 if form.direction.data == "up" else 1,
            actor=staff.actor,
        )
    except CategoryNotFound:
        raise HTTPException(404, "No such category.") from None
    if is_htmx(request):
        return admin_page(request, "admin/catalog_list.html", await list_context(request))
    return redirect(f"{CATALOG}?done=moved#category-{category_id}")


def routes() -> list[Route]:
    return [
        Route("/catalog/categories", create, methods=["POST"]),
        Route("/catalog/categories/{category_id:int}", edit, methods=["GET", "POST"]),
        Route("/catalog/categories/{category_id:int}/move", move, methods=["POST"]),
    ]
