"""Two-factor authentication on the web: its page under the account (set up
with a QR code, confirm, turn off) and the login's second step, /login/code."""

from __future__ import annotations

from typing import Any

import segno
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts import two_factor
from smmpanel.errors import DomainError
from smmpanel.web import session
from smmpanel.web.forms import CodeForm, TwoFactorBeginForm, TwoFactorForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import db_of, page, redirect, require_user, show_refusal, user_of
from smmpanel.web.pages_account import client_ip

PAGE = "/account/2fa"


def qr_svg(uri: str) -> Markup:
    """The QR code of `uri` as inline SVG markup: drawn here, so the page makes
    no request for it (segno writes only paths and numbers, nothing of the URI
    as text)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", border=4)
    return Markup(svg)


async def _page(request: Request, *, status_code: int = 200, **forms: Any) -> Response:
    user = require_user(request)
    status = await run_in_threadpool(
        two_factor.two_factor_status,
        db_of(request),
        account_id=user.id,
        issuer=request.state.panel_name,
    )
    context: dict[str, Any] = {
        "status": status,
        "qr": qr_svg(status.pending.uri) if status.pending else None,
        "begin_form": forms.get("begin_form") or await TwoFactorBeginForm.from_formdata(request),
        "confirm_form": forms.get("confirm_form") or TwoFactorForm(request, formdata=None),
        "disable_form": forms.get("disable_form") or TwoFactorForm(request, formdata=None),
        "done": request.query_params.get("done", ""),
    }
    return page(request, "two_factor.html", context, status_code=status_code)


@csrf_protected
async def status_page(request: Request) -> Response:
    require_user(request)
    return await _page(request)


@csrf_protected
async def begin(request: Request) -> Response:
    user = require_user(request)
    form = await TwoFactorBeginForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        try:
            await run_in_threadpool(
                two_factor.begin_two_factor,
                db_of(request),
                account_id=user.id,
                issuer=request.state.panel_name,
            )
        except DomainError as exc:
            show_refusal(form, exc)
            return await _page(request, status_code=400, begin_form=form)
    return redirect(PAGE)


@csrf_protected
async def confirm(request: Request) -> Response:
    user = require_user(request)
    form = await TwoFactorForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        try:
            epoch = await run_in_threadpool(
                two_factor.confirm_two_factor,
                db_of(request),
                account_id=user.id,
                password=form.password.data or "",
                code=form.code.data or "",
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            # This session follows the new epoch; every other one is logged out.
            request.session[session.EPOCH] = epoch
            return redirect(f"{PAGE}?done=on")
    if request.method != "POST":
        return redirect(PAGE)
    return await _page(request, status_code=400, confirm_form=form)


@csrf_protected
async def disable(request: Request) -> Response:
    user = require_user(request)
    form = await TwoFactorForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        try:
            await run_in_threadpool(
                two_factor.disable_two_factor,
                db_of(request),
                account_id=user.id,
                password=form.password.data or "",
                code=form.code.data or "",
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return redirect(f"{PAGE}?done=off")
    if request.method != "POST":
        return redirect(PAGE)
    return await _page(request, status_code=400, disable_form=form)


@csrf_protected
async def login_code(request: Request) -> Response:
    """The login's second step: the session says whose password was right."""
    if user_of(request) is not None:
        return redirect("/")
    pending = session.pending_code_login(request)
    if pending is None:
        return redirect("/login")
    account_id, epoch = pending
    form = await CodeForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        web = request.app.state.web
        try:
            user = await run_in_threadpool(
                two_factor.log_in_code,
                web.db,
                account_id=account_id,
                auth_epoch=epoch,
                code=form.code.data or "",
                ip=client_ip(request),
                throttle=web.throttle,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            session.log_in(request, user)
            return redirect("/")
    status = 400 if form.errors or form.form_errors else 200
    return page(request, "login_code.html", {"form": form}, status_code=status)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route(PAGE, status_page, methods=["GET"]),
        Route(f"{PAGE}/begin", begin, methods=both),
        Route(f"{PAGE}/confirm", confirm, methods=both),
        Route(f"{PAGE}/disable", disable, methods=both),
        Route("/login/code", login_code, methods=both),
    ]
