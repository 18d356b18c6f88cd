"""Signing up, logging in and out, the account page (password, language) and
password reset links."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts import passwords, two_factor
from smmpanel.accounts.passwords import LANGUAGES
from smmpanel.errors import DomainError
from smmpanel.web import i18n, session
from smmpanel.web.forms import (
    ChangePasswordForm,
    LoginForm,
    ResetForm,
    SignupForm,
)
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import (
    db_of,
    local_path,
    page,
    redirect,
    require_user,
    show_refusal,
    user_of,
)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@csrf_protected
async def login(request: Request) -> Response:
    if user_of(request) is not None:
        return redirect("/")
    form = await LoginForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        web = request.app.state.web
        try:
            user = await run_in_threadpool(
                passwords.log_in,
                web.db,
                username=form.username.data or "",
                password=form.password.data or "",
                ip=client_ip(request),
                throttle=web.throttle,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            if await run_in_threadpool(two_factor.requires_code, web.db, account_id=user.id):
                session.await_code(request, user)
                return redirect("/login/code")
            session.log_in(request, user)
            return redirect("/")
    status = 400 if form.errors or form.form_errors else 200
    return page(request, "login.html", {"form": form}, status_code=status)


@csrf_protected
async def signup(request: Request) -> Response:
    if user_of(request) is not None:
        return redirect("/")
    if not request.state.signup_open:
        raise HTTPException(404, "Sign-up is closed on this panel; ask its owner for an account.")
    form = await SignupForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        try:
            user = await run_in_threadpool(
                passwords.sign_up,
                db_of(request),
                username=form.username.data or "",
                email=form.email.data or "",
                password=form.password.data or "",
                language=i18n.current_language(),
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            session.log_in(request, user)
            return redirect("/")
    status = 400 if form.errors or form.form_errors else 200
    return page(request, "signup.html", {"form": form}, status_code=status)


@csrf_protected
async def logout(request: Request) -> Response:
    if request.method != "POST":
        raise HTTPException(405, "Log out with the button.")
    session.log_out(request)
    return redirect("/")


@csrf_protected
async def account(request: Request) -> Response:
    user = require_user(request)
    form = await ChangePasswordForm.from_formdata(request)
    changed = request.query_params.get("changed") == "1"
    if request.method == "POST" and await form.validate_on_submit():
        try:
            epoch = await run_in_threadpool(
                passwords.change_password,
                db_of(request),
                account_id=user.id,
                current=form.current.data or "",
                new=form.new.data or "",
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            # This session follows the new epoch; every other one is logged out.
            request.session[session.EPOCH] = epoch
            return redirect("/account?changed=1")
    status = 400 if form.errors or form.form_errors else 200
    return page(
        request,
        "account.html",
        {"form": form, "changed": changed},
        status_code=status,
    )


@csrf_protected
async def language(request: Request) -> Response:
    """The language switch: kept in the session, and on the account when logged in."""
    if request.method != "POST":
        raise HTTPException(405, "Choose the language with the switch.")
    form = await request.form()
    chosen = form.get("language")
    if chosen not in LANGUAGES or not isinstance(chosen, str):
        raise HTTPException(400, "Unknown language.")
    request.session[session.LANGUAGE] = chosen
    user = user_of(request)
    if user is not None:
        await run_in_threadpool(
            passwords.set_language, db_of(request), account_id=user.id, language=chosen
        )
    back = form.get("back")
    return redirect(local_path(back if isinstance(back, str) else None))


@csrf_protected
async def reset(request: Request) -> Response:
    """A one-time link issued by the owner (`smmpanel users reset-link NAME`):
    set a new password, then be logged in with it."""
    token = request.path_params["token"]
    db = db_of(request)
    try:
        username = await run_in_threadpool(passwords.reset_target, db, token=token)
    except DomainError as exc:
        raise HTTPException(404, i18n.gettext_(str(exc))) from None
    form = await ResetForm.from_formdata(request)
    if request.method == "POST" and await form.validate_on_submit():
        try:
            user = await run_in_threadpool(
                passwords.reset_password, db, token=token, password=form.password.data or ""
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            session.log_in(request, user)
            return redirect("/")
    status = 400 if form.errors or form.form_errors else 200
    return page(request, "reset.html", {"form": form, "username": username}, status_code=status)


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/login", login, methods=both),
        Route("/signup", signup, methods=both),
        Route("/logout", logout, methods=both),
        Route("/account", account, methods=both),
        Route("/language", language, methods=both),
        Route("/reset/{token}", reset, methods=both),
    ]
