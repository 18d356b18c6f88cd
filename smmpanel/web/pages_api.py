"""The account's API page (the key, shown once when rotated with the password;
the order webhook and its signing secret, shown once) and the API
documentation built from the running panel."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts import passwords
from smmpanel.accounts.passwords import WebUser
from smmpanel.accounts.queries import api_access
from smmpanel.audit.models import Actor
from smmpanel.catalog.queries import list_services
from smmpanel.errors import DomainError
from smmpanel.orders.webhooks import rotate_webhook_secret, set_webhook
from smmpanel.web import api_docs, i18n
from smmpanel.web.forms_account import RotateKeyForm, WebhookForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.links import DEFAULT_PUBLIC_URL
from smmpanel.web.pages import db_of, page, redirect, require_user, show_refusal
from smmpanel.web.pages_account import client_ip

NOTICES = {"webhook": "The webhook URL is saved.", "cleared": "The webhook is removed."}


def _actor(user: WebUser) -> Actor:
    return Actor("web", user.username)


async def _api_page(
    request: Request,
    user: WebUser,
    *,
    key_form: RotateKeyForm | None = None,
    hook_form: WebhookForm | None = None,
    status_code: int = 200,
    **shown: Any,
) -> Response:
    access = await run_in_threadpool(api_access, db_of(request), account_id=user.id)
    hook_form = hook_form or WebhookForm(request, data={"url": access.webhook_url or ""})
    notice = NOTICES.get(request.query_params.get("saved", ""))
    return page(
        request,
        "api_account.html",
        {
            "access": access,
            "key_form": key_form or RotateKeyForm(request),
            "hook_form": hook_form,
            "notice": notice,
            "new_key": None,
            "new_secret": None,
            **shown,
        },
        status_code=status_code,
    )


async def api_account(request: Request) -> Response:
    return await _api_page(request, require_user(request))


def _post_only(request: Request) -> None:
    if request.method != "POST":
        raise HTTPException(405, "Use the page's buttons.")


@csrf_protected
async def rotate_key(request: Request) -> Response:
    """A new key after the password: shown on this answer only, never again."""
    user = require_user(request)
    _post_only(request)
    form = await RotateKeyForm.from_formdata(request)
    if await form.validate_on_submit():
        try:
            key = await run_in_threadpool(
                passwords.rotate_own_api_key,
                db_of(request),
                account_id=user.id,
                password=form.password.data or "",
                ip=client_ip(request),
                throttle=request.app.state.web.throttle,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return await _api_page(request, user, new_key=key)
    return await _api_page(request, user, key_form=form, status_code=400)


@csrf_protected
async def save_webhook(request: Request) -> Response:
    user = require_user(request)
    _post_only(request)
    form = await WebhookForm.from_formdata(request)
    if await form.validate_on_submit():
        try:
            secret = await run_in_threadpool(
                set_webhook,
                db_of(request),
                username=user.username,
                url=form.url.data or "",
                actor=_actor(user),
            )
        except DomainError as exc:
            form.url.errors = [*form.url.errors, i18n.gettext_(str(exc))]
        else:
            if secret is None:
                return redirect("/account/api?saved=webhook")
            return await _api_page(request, user, new_secret=secret)
    return await _api_page(request, user, hook_form=form, status_code=400)


@csrf_protected
async def clear_webhook(request: Request) -> Response:
    user = require_user(request)
    _post_only(request)
    await run_in_threadpool(
        set_webhook, db_of(request), username=user.username, url=None, actor=_actor(user)
    )
    return redirect("/account/api?saved=cleared")


@csrf_protected
async def rotate_secret(request: Request) -> Response:
    user = require_user(request)
    _post_only(request)
    try:
        secret = await run_in_threadpool(
            rotate_webhook_secret, db_of(request), username=user.username, actor=_actor(user)
        )
    except DomainError as exc:
        raise HTTPException(400, i18n.gettext_(str(exc))) from None
    return await _api_page(request, user, new_secret=secret)


def api_url(request: Request) -> str:
    """This panel's API address: SMMPANEL_PUBLIC_URL when the owner set it,
    else the address this request came to."""
    configured: str = request.app.state.web.public_url
    base = configured if configured != DEFAULT_PUBLIC_URL else str(request.base_url)
    return base.rstrip("/") + "/api/v2"


async def docs(request: Request) -> Response:
    user = require_user(request)
    services = await run_in_threadpool(
        list_services, db_of(request).lagging(), account_id=user.id, fx_rate=user.fx_rate
    )
    url = api_url(request)
    return page(
        request,
        "api_docs.html",
        {
            "api_url": url,
            "actions": api_docs.ACTIONS,
            "errors": api_docs.ERRORS,
            "types": api_docs.type_rows(services),
            "examples": api_docs.examples(url, services),
        },
    )


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/account/api", api_account),
        Route("/account/api/key", rotate_key, methods=both),
        Route("/account/api/webhook", save_webhook, methods=both),
        Route("/account/api/webhook/clear", clear_webhook, methods=both),
        Route("/account/api/webhook/secret", rotate_secret, methods=both),
        Route("/api-docs", docs),
    ]
