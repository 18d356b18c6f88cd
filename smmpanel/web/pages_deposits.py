"""Adding funds through the payment gateways: the gateways offered with their
limits and bonuses, starting a deposit, a deposit's own page (where a gateway
sends the customer back: it shows the state and never credits anything), and
the demo gateway's payment page.

Money is credited only by a gateway's signed webhook (or the owner's approval
of a manual transfer), never by a page the customer's browser opens.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from smmpanel.accounts.passwords import WebUser
from smmpanel.audit.models import Actor
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import from_units
from smmpanel.panel.settings import get_setting
from smmpanel.payments.gateway import GatewayUnavailable
from smmpanel.payments.gateways.demo import DemoGateway, signed_webhook
from smmpanel.payments.queries import (
    DepositRow,
    DepositView,
    OfferedGateway,
    account_deposits,
    deposit_view,
    offered_gateways,
)
from smmpanel.payments.registry import installed_gateways
from smmpanel.payments.service import start_deposit
from smmpanel.payments.setup import load_setup
from smmpanel.web import i18n
from smmpanel.web.forms import Form
from smmpanel.web.guard import csrf_protected
from smmpanel.web.pages import db_of, page, redirect, require_user, show_refusal

MAX_ID = 2**31 - 1
DEMO_EVENTS = ("paid", "failed")
DEMO_TIMEOUT_SECONDS = 30.0
DEPOSITS_SHOWN = 20  # on /funds/add; all of them on /funds/deposits
LIST_PAGE = 50
UNAVAILABLE = "This payment method is not available right now; try again later or choose another."


class DepositForm(Form):
    amount = StringField(
        "Amount", [DataRequired(), Length(max=30)], render_kw={"inputmode": "decimal"}
    )
    gateway = SelectField("Payment method", choices=[])


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _actor(user: WebUser) -> Actor:
    return Actor("web", user.username)


def _deposit_id(request: Request) -> int:
    text = request.path_params["deposit_id"]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise HTTPException(404, "Not found")
    return int(text)


def panel_base(request: Request) -> str:
    """Where the panel is reached, for the URLs a gateway is given: the public
    URL the owner set, else the address this request came to."""
    configured = settings_of(request).public_url
    return (configured or str(request.base_url)).rstrip("/")


@dataclass(frozen=True)
class Offer:
    """What /funds/add shows: the gateways offered, the customer's deposits
    (with the titles of their gateways), and the owner's text for when no
    gateway is offered."""

    gateways: list[OfferedGateway]
    deposits: list[DepositRow]
    titles: dict[str, str]
    text: str


def gateway_titles(session: Session, codes: set[str]) -> dict[str, str]:
    """The name customers know each gateway by: the owner's title, else the
    gateway's own; the code for one no longer installed."""
    installed = installed_gateways()
    titles = {}
    for code in codes:
        gateway = installed.get(code)
        try:
            owned = load_setup(session, code, reveal=False).title
        except DomainError:  # a setting stored before a rule changed: the default
            owned = ""
        titles[code] = owned or (gateway.title if gateway is not None else code)
    return titles


def _read_offer(db: Database, settings: Settings, account_id: int) -> Offer:
    with db.read() as session:
        offered = offered_gateways(session, settings)
        deposits = account_deposits(session, account_id=account_id, limit=DEPOSITS_SHOWN)
        return Offer(
            gateways=offered,
            deposits=deposits,
            titles=gateway_titles(session, {d.gateway for d in deposits}),
            text="" if offered else get_setting(session, "add_funds_text"),
        )


@csrf_protected
async def add_funds(request: Request) -> Response:
    """The gateways and the deposit form; with none enabled, the owner's text
    on how to ask for funds."""
    user = require_user(request)
    db, settings = db_of(request), settings_of(request)
    offer = await run_in_threadpool(_read_offer, db, settings, user.id)
    if not offer.gateways:
        return page(request, "add_funds.html", {"offer": offer, "form": None})
    form = await DepositForm.from_formdata(request)
    form.gateway.choices = [(g.code, i18n.gettext_(g.title)) for g in offer.gateways]
    wanted = request.query_params.get("gateway")
    if request.method == "GET" and wanted in {g.code for g in offer.gateways}:
        form.gateway.data = wanted
    if request.method == "POST" and await form.validate_on_submit():
        try:
            started = await run_in_threadpool(
                start_deposit,
                db,
                account_id=user.id,
                gateway=form.gateway.data or "",
                amount=(form.amount.data or "").strip(),
                panel_url=panel_base(request),
                settings=settings,
                actor=_actor(user),
            )
        except DomainError as exc:
            show_refusal(form, exc)
        except GatewayUnavailable:
            # The gateway's own words are for the owner (the deposit's events keep them).
            form.form_errors.append(i18n.gettext_(UNAVAILABLE))
        else:
            return redirect(_next_page(request, started.deposit_id, started.redirect_url))
    status = 400 if form.errors or form.form_errors else 200
    return page(request, "add_funds.html", {"offer": offer, "form": form}, status_code=status)


def _next_page(request: Request, deposit_id: int, redirect_url: str | None) -> str:
    """Straight to the gateway's page when it is the panel's own (the demo);
    else to the deposit's page, whose button leads to the gateway.  A form post
    answered with a redirect to another site is blocked by the pages'
    Content-Security-Policy (form-action 'self'), and a link is not."""
    own = panel_base(request)
    if redirect_url and (redirect_url.startswith(f"{own}/") or redirect_url.startswith("/")):
        path = redirect_url[len(own) :] if redirect_url.startswith(own) else redirect_url
        if path.startswith("/") and not path.startswith("//"):
            return path
    return f"/funds/deposits/{deposit_id}"


async def deposits(request: Request) -> Response:
    """All the customer's deposits, newest first, keyset-paged (/funds/add
    shows the latest few)."""
    user = require_user(request)
    before = _before(request)
    db = db_of(request)

    def read() -> tuple[list[DepositRow], dict[str, str]]:
        with db.read() as session:
            rows = account_deposits(session, account_id=user.id, limit=LIST_PAGE + 1, before=before)
            return rows, gateway_titles(session, {row.gateway for row in rows})

    rows, titles = await run_in_threadpool(read)
    older = rows[LIST_PAGE - 1].id if len(rows) > LIST_PAGE else None
    return page(
        request,
        "deposits.html",
        {"deposits": rows[:LIST_PAGE], "titles": titles, "older": older, "paged": before},
    )


def _before(request: Request) -> int | None:
    text = request.query_params.get("before", "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID + 1:
        raise HTTPException(400, "Not a page of this list.")
    return int(text)


async def deposit(request: Request) -> Response:
    """A deposit's page, and the return URL gateways send the customer to:
    its state, read, never changed.  Another account's deposit is a 404."""
    user = require_user(request)
    deposit_id = _deposit_id(request)
    db = db_of(request)

    def read() -> tuple[DepositView | None, str]:
        with db.read() as session:
            view = deposit_view(session, deposit_id=deposit_id, account_id=user.id)
            if view is None:
                return None, ""
            code = view.deposit.gateway
            return view, gateway_titles(session, {code})[code]

    view, title = await run_in_threadpool(read)
    if view is None:
        raise HTTPException(404, "Not found")
    return page(request, "deposit.html", {"d": view.deposit, "view": view, "title": title})


@csrf_protected
async def demo_pay(request: Request) -> Response:
    """The demo gateway's payment page (demo mode only): "Pay" or "Fail" makes
    the panel post the demo gateway's signed webhook to its own webhook URL,
    over HTTP, so the same crediting path runs as for a real gateway."""
    settings = settings_of(request)
    if not settings.demo_payments:
        raise HTTPException(404, "Not found")
    user = require_user(request)
    deposit_id = _deposit_id(request)
    db = db_of(request)

    def read() -> tuple[DepositRow | None, str]:
        with db.read() as session:
            view = deposit_view(session, deposit_id=deposit_id, account_id=user.id)
            if view is None or view.deposit.gateway != DemoGateway.code:
                return None, ""
            return view.deposit, load_setup(session, DemoGateway.code).config.get("secret", "")

    row, secret = await run_in_threadpool(read)
    if row is None:
        raise HTTPException(404, "Not found")
    error = ""
    if request.method == "POST":
        event = (await request.form()).get("event")
        if event not in DEMO_EVENTS:
            raise HTTPException(400, "Pay or fail.")
        if await _post_demo_webhook(request, row, str(event), secret):
            return redirect(f"/funds/deposits/{deposit_id}")
        error = "The payment could not be sent to the panel; try again."
    return page(
        request, "demo_pay.html", {"d": row, "error": error}, status_code=502 if error else 200
    )


async def _post_demo_webhook(request: Request, row: DepositRow, event: str, secret: str) -> bool:
    """Post the signed webhook to this very server (the address the request
    reached, not the public URL, which may be a proxy's); True when taken."""
    webhook = signed_webhook(
        deposit_id=row.id,
        event=event,
        amount=from_units(row.amount),
        currency=row.currency,
        secret=secret,
    )
    async with httpx.AsyncClient(timeout=DEMO_TIMEOUT_SECONDS) as client:
        try:
            answer = await client.post(
                f"{_own_address(request)}/payments/webhook/demo",
                content=webhook.body,
                headers=webhook.headers,
            )
        except httpx.HTTPError:
            return False
    return answer.status_code == 200


def _own_address(request: Request) -> str:
    server = request.scope.get("server")
    if not server or server[1] is None:
        return str(request.base_url).rstrip("/")
    host, port = server
    if ":" in host:
        host = f"[{host}]"
    # Plain HTTP, as the demo serves: behind a TLS proxy the scope's scheme says
    # https (forwarded headers), but the socket this request came in on does not.
    return f"http://{host}:{port}"


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/funds/add", add_funds, methods=both),
        Route("/funds/deposits", deposits),
        Route("/funds/deposits/{deposit_id}", deposit),
        Route("/funds/demo-pay/{deposit_id}", demo_pay, methods=both),
    ]
