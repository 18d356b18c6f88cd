"""The admin's settings (owner only: MANAGE_SETTINGS): the panel's stored
settings, its texts and logo; currencies and gateways are in
`settings_money`.  Every change goes through the panel's own command, as the
staff member, so the audit trail names them."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.errors import DomainError
from smmpanel.panel.settings import change_setting
from smmpanel.panel.site import MAX_LOGO_BYTES, clear_logo, set_logo, set_site_text
from smmpanel.web import i18n
from smmpanel.web.admin import settings_money
from smmpanel.web.admin.access import admin_context
from smmpanel.web.admin.forms_settings import SettingForm, TextForm
from smmpanel.web.admin.settings_page import form_problem, owner, refused, settings_page
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, refusal_text

SETTINGS = "/admin/settings"


async def settings(request: Request) -> Response:
    owner(request)
    return await settings_page(request)


@csrf_protected
async def set_value(request: Request) -> Response:
    staff = owner(request)
    form = await SettingForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await refused(request, "general", form_problem(form))
    try:
        key, _ = await run_in_threadpool(
            change_setting,
            admin_context(request).db,
            key=(form.key.data or "").strip(),
            value=form.value.data or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        return await refused(request, "general", refusal_text(exc))
    return redirect(f"{SETTINGS}?done={key}#general")


@csrf_protected
async def set_text(request: Request) -> Response:
    staff = owner(request)
    form = await TextForm.from_formdata(request)
    if not await form.validate_on_submit():
        return await refused(request, "texts", form_problem(form))
    try:
        await run_in_threadpool(
            set_site_text,
            admin_context(request).db,
            key=form.key.data or "",
            language=form.language.data or "",
            text=form.text.data or "",
            actor=staff.actor,
        )
    except DomainError as exc:
        return await refused(request, "texts", refusal_text(exc))
    return redirect(f"{SETTINGS}?done=text#texts")


@csrf_protected
async def upload_logo(request: Request) -> Response:
    staff = owner(request)
    upload = (await request.form()).get("logo")
    if not isinstance(upload, UploadFile):
        return await refused(request, "logo", i18n.gettext_("Choose an image file."))
    # One byte past the limit is enough for the domain to refuse a bigger file.
    data = await upload.read(MAX_LOGO_BYTES + 1)
    try:
        await run_in_threadpool(set_logo, admin_context(request).db, data=data, actor=staff.actor)
    except DomainError as exc:
        return await refused(request, "logo", refusal_text(exc))
    return redirect(f"{SETTINGS}?done=logo#logo")


@csrf_protected
async def remove_logo(request: Request) -> Response:
    staff = owner(request)
    await run_in_threadpool(clear_logo, admin_context(request).db, actor=staff.actor)
    return redirect(f"{SETTINGS}?done=logo#logo")


def routes() -> list[Route]:
    post = ["POST"]
    return [
        # The admin app is mounted at /admin: its routes are relative to it.
        Route("/settings", settings),
        Route("/settings/set", set_value, methods=post),
        Route("/settings/text", set_text, methods=post),
        Route("/settings/logo", upload_logo, methods=post),
        Route("/settings/logo/clear", remove_logo, methods=post),
        *settings_money.routes(),
    ]
