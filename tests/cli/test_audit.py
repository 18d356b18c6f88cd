"""`smmpanel audit list`: every change made through the admin command line
leaves exactly one audit row, with who, what, when and the values before and
after, and never a secret."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from smmpanel.accounts.models import Account
from smmpanel.accounts.service import set_account_options
from smmpanel.accounts.two_factor import begin_two_factor
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.db import Database
from smmpanel.orders.requests import request_cancel, request_refill
from smmpanel.orders.service import place_order, update_order
from smmpanel.orders.webhooks import set_webhook
from smmpanel.panel.alerts import raise_alert
from smmpanel.payments.service import start_deposit
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.providers.service import add_provider, map_service, set_provider_status
from smmpanel.support.service import open_ticket
from smmpanel.timeutil import utcnow
from tests.cli.conftest import Run, last_line
from tests.factories import Customer, make_customer, make_service

CLI = str(Actor.cli())
UP_URL = "https://up.example/api/v2"
PROVIDER_KEY = "UPSTREAM-KEY-never-in-the-trail"


@dataclass(frozen=True)
class Expected:
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


Case = Callable[[Run, Database], Expected]
CASES: dict[AuditAction, Case] = {}


def case(action: AuditAction) -> Callable[[Case], Case]:
    def add(function: Case) -> Case:
        CASES[action] = function
        return function

    return add


def audit_rows(run: Run, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(run("audit", "list", "--json", *args).stdout)
    return rows


def _order(db: Database, customer: Customer, service: int, link: str = "https://x.y/1") -> int:
    params = {"link": link, "quantity": "1000"}
    return place_order(db, account_id=customer.id, service_id=service, params=params).order_id


def _provider(db: Database) -> int:
    return add_provider(db, name="up", api_url=UP_URL, api_key=PROVIDER_KEY)


# --- accounts -----------------------------------------------------------------------


@case(AuditAction.ACCOUNT_CREATED)
def _account_created(run: Run, db: Database) -> Expected:
    run("users", "add", "bob", "--email", "bob@example.com")
    bob = _account_id(db, "bob")
    after = {"username": "bob", "email": "bob@example.com", "currency": "USD"}
    return Expected(f"account:{bob}", None, after)


def _account_id(db: Database, username: str) -> int:
    with db.read() as session:
        found = session.scalar(select(Account.id).where(Account.username == username))
    assert found is not None
    return found


@case(AuditAction.ACCOUNT_FUNDED)
def _account_funded(run: Run, db: Database) -> Expected:
    alice = make_customer(db, balance="10")
    run("users", "fund", "alice", "2.5", "--note", "bank transfer")
    after = {"balance": "12.50000", "amount": "2.50000", "currency": "USD", "note": "bank transfer"}
    return Expected(f"account:{alice.id}", {"balance": "10.00000"}, after)


@case(AuditAction.ACCOUNT_CHANGED)
def _account_changed(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    run("users", "set", "alice", "--email", "new@example.com", "--extended-fields")
    before = {"extended_fields": False, "email": None}
    return Expected(
        f"account:{alice.id}", before, {"extended_fields": True, "email": "new@example.com"}
    )


@case(AuditAction.ACCOUNT_SUSPENDED)
def _account_suspended(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    run("users", "set", "alice", "--status", "suspended")
    return Expected(f"account:{alice.id}", {"status": "active"}, {"status": "suspended"})


@case(AuditAction.ACCOUNT_UNSUSPENDED)
def _account_unsuspended(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    set_account_options(db, username="alice", status="suspended")
    run("users", "set", "alice", "--status", "active")
    return Expected(f"account:{alice.id}", {"status": "suspended"}, {"status": "active"})


@case(AuditAction.RATE_SET)
def _rate_set(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    service = make_service(db)
    run("users", "set", "alice", "--rate", f"{service}=0.5")
    return Expected(
        f"account:{alice.id}",
        {"service": service, "rate": None},
        {"service": service, "rate": "0.50000"},
    )


@case(AuditAction.RATE_LIMIT_SET)
def _rate_limit_set(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    run("users", "set", "alice", "--rate-limit", "5/s")
    return Expected(f"account:{alice.id}", {"rate_limit": "default"}, {"rate_limit": "5/second"})


@case(AuditAction.KEY_ROTATED)
def _key_rotated(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    run("users", "rotate-key", "alice")
    return Expected(f"account:{alice.id}", None, {"keys_revoked": 1})


@case(AuditAction.WEBHOOK_SET)
def _webhook_set(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    # The query (and any user:password) may hold the receiver's own token: left out.
    run("users", "webhook", "alice", "https://shop.example/hook?token=T0KEN")
    after = {"url": "https://shop.example/hook", "new_secret": True}
    return Expected(f"account:{alice.id}", {"url": None}, after)


@case(AuditAction.WEBHOOK_REMOVED)
def _webhook_removed(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    set_webhook(db, username="alice", url="https://shop.example/hook")
    run("users", "webhook", "alice", "--remove")
    after = {"url": None, "new_secret": False}
    return Expected(f"account:{alice.id}", {"url": "https://shop.example/hook"}, after)


@case(AuditAction.WEBHOOK_SECRET_ROTATED)
def _webhook_secret_rotated(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    set_webhook(db, username="alice", url="https://shop.example/hook")
    run("users", "webhook", "alice", "--rotate-secret")
    return Expected(f"account:{alice.id}", None, {"url": "https://shop.example/hook"})


# --- panel settings -----------------------------------------------------------------


@case(AuditAction.CURRENCY_RATE_SET)
def _currency_rate_set(run: Run, db: Database) -> Expected:
    run("currencies", "set", "EUR", "0.92")
    return Expected("currency:EUR", {"rate": None}, {"rate": "0.92"})


@case(AuditAction.BASE_CURRENCY_SET)
def _base_currency_set(run: Run, db: Database) -> Expected:
    run("currencies", "base", "EUR")
    return Expected("setting:base_currency", {"base_currency": "USD"}, {"base_currency": "EUR"})


@case(AuditAction.SETTING_CHANGED)
def _setting_changed(run: Run, db: Database) -> Expected:
    run("settings", "set", "default_refill_days", "45")
    return Expected(
        "setting:default_refill_days",
        {"default_refill_days": "30"},
        {"default_refill_days": "45"},
    )


# --- catalog ------------------------------------------------------------------------

SERVICE_FIELDS = {
    "name": "Likes",
    "type": "Default",
    "category": "Instagram",
    "rate": "1.25000",
    "min": 10,
    "max": 500,
    "dripfeed": False,
    "refill": True,
    "refill_days": None,
    "cancel": False,
    "link_required": True,
    "enabled": True,
    "description": "",
}


def _add_service(run: Run, category: str = "Instagram") -> int:
    args = ["--name", "Likes", "--category", category, "--rate", "1.25"]
    return int(last_line(run("services", "add", *args, "--min", "10", "--max", "500", "--refill")))


@case(AuditAction.SERVICE_CREATED)
def _service_created(run: Run, db: Database) -> Expected:
    service = _add_service(run)
    return Expected(f"service:{service}", None, SERVICE_FIELDS)


@case(AuditAction.SERVICE_CHANGED)
def _service_changed(run: Run, db: Database) -> Expected:
    service = make_service(db)
    run("services", "set", str(service), "--rate", "1.5", "--disable")
    return Expected(
        f"service:{service}",
        {"rate": "0.90000", "enabled": True},
        {"rate": "1.50000", "enabled": False},
    )


@case(AuditAction.CATEGORY_CREATED)
def _category_created(run: Run, db: Database) -> Expected:
    make_service(db)  # category 1, Instagram
    _add_service(run, category="TikTok")
    return Expected("category:2", None, {"name": "TikTok", "position": 2})


@case(AuditAction.CATEGORY_CHANGED)
def _category_changed(run: Run, db: Database) -> Expected:
    make_service(db)
    run("categories", "set", "Instagram", "--name", "IG", "--position", "7", "--lang", "de=Folgen")
    return Expected(
        "category:1",
        {"name": "Instagram", "position": 1, "name_de": None},
        {"name": "IG", "position": 7, "name_de": "Folgen"},
    )


MAPPING = {
    "provider": 1,
    "upstream_service": "77",
    "priority": 1,
    "markup_percent": "25",
    "markup_fixed": "0.00000",
    "round_places": 2,
}


@case(AuditAction.SERVICE_MAPPED)
def _service_mapped(run: Run, db: Database) -> Expected:
    service = make_service(db)
    _provider(db)
    run("services", "map", str(service), "--provider", "up", "--upstream-service", "77",
        "--markup", "25")  # fmt: skip
    return Expected(f"service:{service}", None, MAPPING)


@case(AuditAction.SERVICE_UNMAPPED)
def _service_unmapped(run: Run, db: Database) -> Expected:
    service = make_service(db)
    _provider(db)
    map_service(
        db, service_id=service, provider_name="up", upstream_service_id="77",
        markup_percent="25", round_places=2,
    )  # fmt: skip
    run("services", "unmap", str(service), "--provider", "up")
    return Expected(f"service:{service}", MAPPING, None)


# --- providers ----------------------------------------------------------------------


@case(AuditAction.PROVIDER_ADDED)
def _provider_added(run: Run, db: Database) -> Expected:
    run("providers", "add", "up", UP_URL, "--key-stdin", input=PROVIDER_KEY + "\n")
    after = {"name": "up", "api_url": UP_URL, "method": "post", "timeout": 20.0}
    return Expected("provider:1", None, after)


@case(AuditAction.PROVIDER_PAUSED)
def _provider_paused(run: Run, db: Database) -> Expected:
    _provider(db)
    run("providers", "pause", "up")
    return Expected("provider:1", {"status": "active", "paused_reason": ""}, {"status": "paused"})


@case(AuditAction.PROVIDER_RESUMED)
def _provider_resumed(run: Run, db: Database) -> Expected:
    _provider(db)
    set_provider_status(db, name="up", active=False)
    run("providers", "resume", "up")
    before = {"status": "paused", "paused_reason": "paused by the owner"}
    return Expected("provider:1", before, {"status": "active"})


# --- orders and requests ------------------------------------------------------------


@case(AuditAction.ORDER_RESOLVED_BY_HAND)
def _order_resolved(run: Run, db: Database) -> Expected:
    order = _order(db, make_customer(db), make_service(db))
    run("orders", "update", str(order), "--status", "in progress", "--start-count", "5",
        "--note", "started by hand")  # fmt: skip
    return Expected(
        f"order:{order}",
        {"status": "Pending", "start_count": None, "remains": 1000},
        {"status": "In progress", "start_count": 5, "remains": 1000, "note": "started by hand"},
    )


def _forwarded_order(db: Database) -> int:
    service = make_service(db)
    _provider(db)
    map_service(db, service_id=service, provider_name="up", upstream_service_id="9")
    return _order(db, make_customer(db), service)


@case(AuditAction.ORDER_ADOPTED_BY_HAND)
def _order_adopted(run: Run, db: Database) -> Expected:
    order = _forwarded_order(db)
    run("providers", "reconcile", "--adopt", f"{order}=U-55")
    after = {"forward_state": "accepted", "upstream_order": "U-55"}
    return Expected(f"order:{order}", {"forward_state": "queued"}, after)


@case(AuditAction.ORDER_CANCELED_BY_HAND)
def _order_canceled(run: Run, db: Database) -> Expected:
    order = _forwarded_order(db)
    run("providers", "reconcile", "--cancel", str(order))
    return Expected(
        f"order:{order}",
        {"forward_state": "queued", "status": "Pending"},
        {
            "forward_state": "rejected",
            "status": "Canceled",
            "why": "the owner found no upstream order",
        },
    )


@case(AuditAction.ORDER_RESENT)
def _order_resent(run: Run, db: Database) -> Expected:
    order = _forwarded_order(db)
    run("orders", "resend", str(order))
    before = {"forward_state": "queued", "error": ""}
    return Expected(f"order:{order}", before, {"forward_state": "queued"})


@case(AuditAction.POST_RECORDED)
def _post_recorded(run: Run, db: Database) -> Expected:
    alice = make_customer(db, balance="1")
    service = make_service(db, type="Subscriptions", min_quantity=50, max_quantity=5000)
    params = {"username": "alice_ig", "min": "50", "max": "100"}
    sub = place_order(db, account_id=alice.id, service_id=service, params=params).order_id
    post = int(last_line(run("orders", "post", str(sub), "66")))
    after = {
        "post": post,
        "number": 1,
        "quantity": 66,
        "status": "Completed",
        "charge": "0.05940",
        "currency": "USD",
    }
    return Expected(f"order:{sub}", None, after)


@case(AuditAction.REFILL_RESOLVED_BY_HAND)
def _refill_resolved(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    order = _order(db, alice, make_service(db, refill=True))
    update_order(db, order_id=order, status="Completed")
    refill = request_refill(db, account_id=alice.id, order_id=order)
    run("refills", "update", str(refill), "--status", "completed")
    before = {"status": "Pending", "order": order}
    return Expected(f"refill:{refill}", before, {"status": "Completed"})


@case(AuditAction.CANCEL_RESOLVED_BY_HAND)
def _cancel_resolved(run: Run, db: Database) -> Expected:
    alice = make_customer(db)
    order = _order(db, alice, make_service(db, cancel=True))
    update_order(db, order_id=order, status="In progress")
    cancel, _kind = request_cancel(db, account_id=alice.id, order_id=order)
    run("cancels", "update", str(cancel), "--status", "completed")
    return Expected(
        f"cancel:{cancel}",
        {"status": "Pending", "order": order, "order_status": "In progress"},
        {"status": "Completed", "order_status": "Canceled"},
    )


# --- the rest -----------------------------------------------------------------------


@case(AuditAction.ALERT_RESOLVED)
def _alert_resolved(run: Run, db: Database) -> Expected:
    with db.write() as session:
        raise_alert(session, kind="provider_paused", subject="provider up", message="m")
    run("alerts", "resolve", "1")
    after = {"resolved": True, "kind": "provider_paused", "about": "provider up"}
    return Expected("alert:1", {"resolved": False}, after)


@case(AuditAction.SECRETS_REENCRYPTED)
def _secrets_reencrypted(run: Run, db: Database) -> Expected:
    make_customer(db)
    with db.write() as session:  # a secret stored before encryption existed
        session.execute(
            update(Account).values(webhook_url="https://shop.example/h", webhook_secret="PLAIN")
        )
    run("secrets", "rotate")
    after = {
        "provider key": {"encrypted": 0, "reencrypted": 0},
        "webhook secret": {"encrypted": 1, "reencrypted": 0},
        "two-factor secret": {"encrypted": 0, "reencrypted": 0},
        "pending two-factor secret": {"encrypted": 0, "reencrypted": 0},
        "payment gateway secret": {"encrypted": 0, "reencrypted": 0},
    }
    return Expected("secrets:all", None, after)


@case(AuditAction.TICKET_REPLIED)
def _ticket_replied(run: Run, db: Database) -> Expected:
    customer = make_customer(db)
    ticket = open_ticket(db, account_id=customer.id, subject_kind="payment", message="add 10")
    run("tickets", "reply", str(ticket), "Added.")
    return Expected(f"ticket:{ticket}", {"status": "open"}, {"status": "answered", "characters": 6})


@case(AuditAction.TICKET_CLOSED)
def _ticket_closed(run: Run, db: Database) -> Expected:
    customer = make_customer(db)
    ticket = open_ticket(db, account_id=customer.id, subject_kind="other", message="hi")
    run("tickets", "close", str(ticket))
    return Expected(f"ticket:{ticket}", {"status": "open"}, {"status": "closed"})


@case(AuditAction.SITE_TEXT_CHANGED)
def _site_text_changed(run: Run, db: Database) -> Expected:
    run("site", "set-text", "terms", "--language", "ru", input="Правила.")
    return Expected("text:terms:ru", {"characters": 0}, {"characters": 8})


# The smallest GIF: a header, a 1x1 screen, no image data, the trailer.
_GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


@case(AuditAction.LOGO_CHANGED)
def _logo_changed(run: Run, db: Database) -> Expected:
    digest = hashlib.sha256(_GIF).hexdigest()[:12]
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "logo.gif"
        image.write_bytes(_GIF)
        run("site", "set-logo", str(image))
    after = {"sha256": digest, "bytes": len(_GIF), "type": "image/gif"}
    return Expected("site:logo", {"sha256": None}, after)


@case(AuditAction.TWO_FACTOR_TURNED_OFF)
def _two_factor_turned_off(run: Run, db: Database) -> Expected:
    customer = make_customer(db)
    setup = begin_two_factor(db, account_id=customer.id, issuer="panel")
    with db.write() as session:  # on, as confirm_two_factor leaves it
        account = session.get_one(Account, customer.id)
        account.totp_secret, account.totp_pending = account.totp_pending, None
    assert setup.secret
    run("users", "2fa-off", customer.username)
    return Expected(f"account:{customer.id}", {"two_factor": True}, {"two_factor": False})


# --- payments -------------------------------------------------------------------------


@case(AuditAction.GATEWAY_CONFIGURED)
def _gateway_configured(run: Run, db: Database) -> Expected:
    run("gateways", "set", "manual", "instructions=IBAN X", "min=5")
    after = {"values": {"instructions": "IBAN X", "min": "5"}, "secrets_changed": []}
    return Expected("gateway:manual", None, after)


@case(AuditAction.GATEWAY_ENABLED)
def _gateway_enabled(run: Run, db: Database) -> Expected:
    configure_gateway(db, code="manual", values={"instructions": "IBAN X"}, actor=Actor.system())
    run("gateways", "enable", "manual")
    return Expected("gateway:manual", {"enabled": False}, {"enabled": True})


@case(AuditAction.GATEWAY_DISABLED)
def _gateway_disabled(run: Run, db: Database) -> Expected:
    _manual_enabled(db)
    run("gateways", "disable", "manual")
    return Expected("gateway:manual", {"enabled": True}, {"enabled": False})


def _manual_enabled(db: Database) -> None:
    configure_gateway(db, code="manual", values={"instructions": "IBAN X"}, actor=Actor.system())
    enable_gateway(db, code="manual", actor=Actor.system())


def _manual_deposit(db: Database) -> int:
    _manual_enabled(db)
    customer = make_customer(db, balance="0")
    started = start_deposit(
        db,
        account_id=customer.id,
        gateway="manual",
        amount="12",
        panel_url="https://panel.example",
        actor=Actor("web", customer.username),
    )
    return started.deposit_id


@case(AuditAction.DEPOSIT_APPROVED)
def _deposit_approved(run: Run, db: Database) -> Expected:
    deposit_id = _manual_deposit(db)
    run("deposits", "approve", str(deposit_id), "--note", "on the statement")
    after = {"state": "paid", "credited": "12.00000", "currency": "USD", "note": "on the statement"}
    return Expected(f"deposit:{deposit_id}", {"state": "pending"}, after)


@case(AuditAction.DEPOSIT_REJECTED)
def _deposit_rejected(run: Run, db: Database) -> Expected:
    deposit_id = _manual_deposit(db)
    run("deposits", "reject", str(deposit_id), "--reason", "never arrived")
    after = {"state": "rejected", "reason": "never arrived"}
    return Expected(f"deposit:{deposit_id}", {"state": "pending"}, after)


@case(AuditAction.DEPOSIT_CHECKED)
def _deposit_checked(run: Run, db: Database) -> Expected:
    deposit_id = _manual_deposit(db)
    run("deposits", "check", str(deposit_id))
    return Expected(f"deposit:{deposit_id}", None, {"state": "pending", "result": "unchanged"})


def test_every_action_kind_has_a_case() -> None:
    assert set(CASES) == set(AuditAction)


@pytest.mark.parametrize("action", list(AuditAction), ids=str)
def test_each_change_writes_one_row(run: Run, db: Database, action: AuditAction) -> None:
    expected = CASES[action](run, db)
    rows = [row for row in audit_rows(run) if row["actor"] == CLI]
    assert [row["action"] for row in rows].count(action.value) == 1, rows
    [row] = [row for row in rows if row["action"] == action.value]
    assert (row["subject"], row["before"], row["after"]) == (
        expected.subject,
        expected.before,
        expected.after,
    )
    at = datetime.fromisoformat(row["at"])
    assert utcnow() - timedelta(seconds=60) <= at <= utcnow() + timedelta(seconds=1)
    assert audit_rows(run, "--action", action.value.upper())[0]["id"] == row["id"]
