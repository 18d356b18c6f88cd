"""Staff logging in (password, then a code when two-factor is on), out, and
setting up their own two-factor authentication."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.two_factor import TwoFactorSetup
from smmpanel.errors import DomainError
from smmpanel.staff import logins
from smmpanel.staff.logins import StaffUser
from smmpanel.web import session
from smmpanel.web.admin.access import (
    HOME,
    LOGIN_PATH,
    admin_context,
    admin_page,
    log_in,
    log_out,
    require_staff,
    staff_of,
)
from smmpanel.web.forms import CodeForm, LoginForm, TwoFactorBeginForm, TwoFactorForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import redirect, show_refusal
from smmpanel.web.pages_account import client_ip
from smmpanel.web.pages_two_factor import qr_svg

SECURITY = "/admin/security"


async def _logged_in(request: Request, user: StaffUser) -> Response:
    log_in(request, user)
    await run_in_threadpool(
        logins.record_staff_login,
        admin_context(request).db,
        staff_id=user.id,
        ip=client_ip(request),
    )
    return redirect(HOME)


@csrf_protected
async def login(request: Request) -> Response:
    if staff_of(request) is not None:
        return redirect(HOME)
    form = await LoginForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        admin = admin_context(request)
        try:
            user = await run_in_threadpool(
                logins.log_in_staff,
                admin.db,
                username=form.username.data or "",
                password=form.password.data or "",
                ip=client_ip(request),
                throttle=admin.throttle,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            if user.two_factor:
                session.await_code(request, user)
                return redirect(LOGIN_PATH + "/code")
            return await _logged_in(request, user)
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(request, "admin/login.html", {"form": form}, status_code=status)


@csrf_protected
async def login_code(request: Request) -> Response:
    pending = session.pending_code_login(request)
    if pending is None:
        return redirect(LOGIN_PATH)
    form = await CodeForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        admin = admin_context(request)
        staff_id, epoch = pending
        try:
            user = await run_in_threadpool(
                logins.log_in_staff_code,
                admin.db,
                staff_id=staff_id,
                auth_epoch=epoch,
                code=form.code.data or "",
                ip=client_ip(request),
                throttle=admin.throttle,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            return await _logged_in(request, user)
    status = 400 if form.errors or form.form_errors else 200
    return admin_page(request, "admin/login_code.html", {"form": form}, status_code=status)


@csrf_protected
async def logout(request: Request) -> Response:
    log_out(request)
    return redirect(LOGIN_PATH)


async def security(request: Request) -> Response:
    user = require_staff(request, before_two_factor=True)
    pending = None
    if not user.two_factor:
        pending = await run_in_threadpool(
            logins.pending_staff_two_factor,
            admin_context(request).db,
            staff_id=user.id,
            issuer=request.state.panel_name,
        )
    return await _security_page(request, user, pending=pending)


async def _security_page(
    request: Request,
    user: StaffUser,
    *,
    pending: TwoFactorSetup | None = None,
    begin_form: TwoFactorBeginForm | None = None,
    confirm_form: TwoFactorForm | None = None,
    status_code: int = 200,
) -> Response:
    return admin_page(
        request,
        "admin/security.html",
        {
            "member": user,
            "pending": pending,
            "qr": qr_svg(pending.uri) if pending else "",
            "begin_form": begin_form or await TwoFactorBeginForm.from_formdata(request),
            "confirm_form": confirm_form or await TwoFactorForm.from_formdata(request),
            "done": request.query_params.get("done", ""),
            "required": request.query_params.get("required") == "1" and not user.two_factor,
        },
        status_code=status_code,
    )


@csrf_protected
async def security_begin(request: Request) -> Response:
    user = require_staff(request, before_two_factor=True)
    form = await TwoFactorBeginForm.from_formdata(request)
    try:
        setup = await run_in_threadpool(
            logins.begin_staff_two_factor,
            admin_context(request).db,
            staff_id=user.id,
            issuer=request.state.panel_name,
        )
    except DomainError as exc:
        show_refusal(form, exc)
        return await _security_page(request, user, begin_form=form, status_code=400)
    return await _security_page(request, user, pending=setup)


@csrf_protected
async def security_confirm(request: Request) -> Response:
    user = require_staff(request, before_two_factor=True)
    form = await TwoFactorForm.from_formdata(request)
    db = admin_context(request).db
    if await form.validate_on_submit():
        try:
            await run_in_threadpool(
                logins.confirm_staff_two_factor,
                db,
                staff_id=user.id,
                password=form.password.data or "",
                code=form.code.data or "",
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            # The epoch moved: this session logs in again with it, every other ends.
            fresh = await run_in_threadpool(
                logins.session_staff, db, staff_id=user.id, auth_epoch=user.auth_epoch + 1
            )
            if fresh is not None:
                log_in(request, fresh)
            return redirect(SECURITY + "?done=on")
    pending = await run_in_threadpool(
        logins.pending_staff_two_factor, db, staff_id=user.id, issuer=request.state.panel_name
    )
    return await _security_page(request, user, pending=pending, confirm_form=form, status_code=400)


def routes() -> list[Route]:
    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/login/code", login_code, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/security", security),
        Route("/security/begin", security_begin, methods=["POST"]),
        Route("/security/confirm", security_confirm, methods=["POST"]),
    ]
