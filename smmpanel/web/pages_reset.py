"""/reset: "Forgot your password?".  With SMTP configured, a one-time link is
mailed to a matching account; the answer is the same whether or not one
matched.  Without SMTP the page says to ask the panel's owner."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smmpanel.accounts.reset_mail import request_reset_email
from smmpanel.web.forms import ResetRequestForm
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import db_of, page, redirect, user_of
from smmpanel.web.pages_account import client_ip


@csrf_protected
async def forgot(request: Request) -> Response:
    if user_of(request) is not None:
        return redirect("/account")
    mail = request.app.state.reset_mail
    form = await ResetRequestForm.from_formdata(request)
    if mail.smtp_on and request.method == "POST" and await form.validate_on_submit():
        await run_in_threadpool(
            request_reset_email,
            db_of(request),
            login=form.login.data or "",
            ip=client_ip(request),
            limits=mail.limits,
        )
        # The same answer whatever happened: it must not tell which accounts exist.
        return redirect("/reset?sent=1")
    context = {
        "form": form,
        "smtp_on": mail.smtp_on,
        "sent": request.query_params.get("sent") == "1",
    }
    status = 400 if form.errors else 200
    return page(request, "forgot.html", context, status_code=status)


def routes() -> list[Route]:
    return [Route("/reset", forgot, methods=["GET", "POST"])]
