"""Deposits: starting one, the gateway's webhooks, the owner's approval or
rejection, and asking a gateway again (reconciliation).

One transaction per state change; a gateway is called only outside any
transaction (its operations may take seconds).  Nothing credits without a
verified gateway event (crediting.apply_gateway_event) or the owner's approval.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import money, record_audit
from smmpanel.config import Settings, current_settings
from smmpanel.db import Database
from smmpanel.money import SCALE, MoneyError, from_units, parse_exact, plain_decimal
from smmpanel.panel.alerts import resolve_alerts
from smmpanel.panel.settings import get_setting
from smmpanel.payments.bonus import applicable_rule, bonus_units
from smmpanel.payments.conversion import convert_amount
from smmpanel.payments.crediting import (
    ALERT_HELD,
    CREDITED,
    MOVED,
    UNCHANGED,
    DepositOutcome,
    apply_gateway_event,
    credit_deposit,
    deposit_subject,
)
from smmpanel.payments.errors import (
    DepositNotFound,
    DepositRefused,
    DepositStateError,
    GatewayDisabled,
    InvalidDepositAmount,
    UnknownGateway,
)
from smmpanel.payments.gateway import (
    DepositRef,
    Gateway,
    GatewayUnavailable,
    PaymentStart,
)
from smmpanel.payments.models import Deposit, PaymentGateway
from smmpanel.payments.registry import gateway_for, installed_gateways
from smmpanel.payments.setup import GatewaySetup, load_setup
from smmpanel.payments.states import DepositState, move_deposit_state, record_event
from smmpanel.timeutil import as_utc, utcnow

log = logging.getLogger("smmpanel.payments")

S = DepositState
# A deposit's amount: what a customer types, in the gateway's currency.
PAYMENT_PLACES = 2
MAX_DEPOSIT = Decimal(10) ** 9
# States the owner may credit or close by hand: a manual transfer still open,
# and any gateway's payment held for a mismatch.
MANUAL_OPEN = frozenset({S.CREATED, S.PENDING, S.FAILED, S.EXPIRED})

__all__ = [
    "DepositOutcome",
    "StartedDeposit",
    "apply_gateway_event",
    "approve_deposit",
    "check_deposit",
    "check_pending_deposits",
    "receive_webhook",
    "reject_deposit",
    "start_deposit",
]


@dataclass(frozen=True)
class StartedDeposit:
    deposit_id: int
    reference: str
    state: str
    redirect_url: str | None
    instructions: str | None


# --- starting a deposit ---------------------------------------------------------------


def deposit_amount(value: Decimal | str) -> Decimal:
    """A deposit's amount as typed: positive, at most 2 decimal places;
    InvalidDepositAmount otherwise."""
    try:
        amount = parse_exact(
            value, what="the amount", low=Decimal(0), high=MAX_DEPOSIT, places=PAYMENT_PLACES
        )
    except MoneyError as exc:
        raise InvalidDepositAmount(str(exc)) from None
    if amount <= 0:
        raise InvalidDepositAmount("the amount must be more than zero")
    return amount


def start_deposit(
    db: Database,
    *,
    account_id: int,
    gateway: str,
    amount: Decimal | str,
    panel_url: str,
    settings: Settings | None = None,
    actor: Actor,
) -> StartedDeposit:
    """Make a deposit and create its payment at the gateway.  UnknownGateway,
    GatewayDisabled, InvalidDepositAmount or DepositRefused change nothing;
    GatewayUnavailable leaves the deposit failed (and is raised again)."""
    plugin = gateway_for(gateway, settings or current_settings())
    value = deposit_amount(amount)
    with db.write() as session:
        setup = load_setup(session, gateway)
        if not setup.enabled:
            raise GatewayDisabled(f"payments through {gateway[:40]} are not offered")
        deposit = _create_deposit(session, setup, account_id, value, str(actor))
        ref = _deposit_ref(session, deposit, panel_url)
    try:
        start = plugin.create_payment(ref, setup.config)
    except GatewayUnavailable as exc:
        _fail_start(db, deposit.id, str(exc), actor)
        raise
    except Exception as exc:  # a plug-in's bug: the deposit fails, the panel goes on
        log.exception("gateway %s failed to create the payment of deposit %s", gateway, deposit.id)
        _fail_start(db, deposit.id, f"the gateway failed ({type(exc).__name__})", actor)
        raise GatewayUnavailable("the payment gateway failed; try again later") from exc
    return _store_start(db, deposit.id, start, actor)


def _create_deposit(
    session: Session, setup: GatewaySetup, account_id: int, value: Decimal, actor: str
) -> Deposit:
    account = session.get(Account, account_id)
    if account is None:
        raise DepositNotFound(f"no account {account_id}")
    if not setup.min_amount <= value <= setup.max_amount:
        raise DepositRefused(
            f"a deposit is from {plain_decimal(setup.min_amount)} to "
            f"{plain_decimal(setup.max_amount)} {setup.currency}"
        )
    credit = convert_amount(session, value, setup.currency, account.currency)
    if credit <= 0:
        raise DepositRefused("the amount is too small to credit")
    deposit = Deposit(
        account_id=account.id,
        gateway=setup.code,
        amount=int(value * SCALE),
        currency=setup.currency,
        credit_amount=credit,
        account_currency=account.currency,
        bonus_amount=bonus_units(credit, applicable_rule(setup.bonus, value)),
        reference="",
        state=S.CREATED.value,
        owed_amount=0,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(deposit)
    session.flush()
    deposit.reference = reference_of(deposit.id)
    record_event(session, deposit=deposit, from_state=None, kind="create", actor=actor)
    return deposit


def reference_of(deposit_id: int) -> str:
    """The deposit's short reference, e.g. D-000042."""
    return f"D-{deposit_id:06d}"


def _deposit_ref(session: Session, deposit: Deposit, panel_url: str) -> DepositRef:
    """What the gateway is told about `deposit`; `panel_url` may be "" (the
    worker's checks, which need no links)."""
    base = panel_url.rstrip("/")
    username = session.execute(
        select(Account.username).where(Account.id == deposit.account_id)
    ).scalar_one()
    return DepositRef(
        id=deposit.id,
        amount=from_units(deposit.amount).quantize(Decimal("0.01")),
        currency=deposit.currency,
        reference=deposit.reference,
        external_id=deposit.external_id,
        description=f"Balance top-up for {username} on {get_setting(session, 'panel_name')}",
        return_url=f"{base}/funds/deposits/{deposit.id}",
        webhook_url=f"{base}/payments/webhook/{deposit.gateway}",
    )


def _fail_start(db: Database, deposit_id: int, why: str, actor: Actor) -> None:
    with db.write() as session:
        deposit = _locked(session, deposit_id)
        if deposit.state == S.CREATED:
            move_deposit_state(
                session, deposit=deposit, to=S.FAILED, kind="start", actor=str(actor), note=why
            )


def _store_start(
    db: Database, deposit_id: int, start: PaymentStart, actor: Actor
) -> StartedDeposit:
    redirect = start.redirect_url
    if redirect is not None and not (
        redirect.startswith(("https://", "http://")) and len(redirect) <= 2000
    ):
        # Pages link to it: never a javascript: or data: URL from a plug-in.
        _fail_start(db, deposit_id, "the gateway returned an unusable payment link", actor)
        raise GatewayUnavailable("the payment gateway returned an unusable payment link")
    with db.write() as session:
        deposit = _locked(session, deposit_id)
        if start.external_id and deposit.external_id is None:
            deposit.external_id = start.external_id[:255]
        deposit.redirect_url = redirect
        deposit.instructions = start.instructions
        if deposit.state == S.CREATED:  # a webhook may have been quicker
            move_deposit_state(
                session, deposit=deposit, to=S.PENDING, kind="start", actor=str(actor)
            )
        return StartedDeposit(
            deposit.id, deposit.reference, deposit.state, deposit.redirect_url, deposit.instructions
        )


def _locked(session: Session, deposit_id: int) -> Deposit:
    deposit = session.scalars(
        select(Deposit).where(Deposit.id == deposit_id).with_for_update()
    ).first()
    if deposit is None:
        raise DepositNotFound(f"no deposit {deposit_id}")
    return deposit


# --- webhooks ----------------------------------------------------------------------------


def receive_webhook(
    db: Database,
    *,
    gateway: str,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings | None = None,
) -> list[DepositOutcome]:
    """Verify a webhook through its gateway and apply its events.  UnknownGateway
    for a gateway not installed or never set up (404); WebhookRefused for one
    that is not genuine (400, nothing changed); GatewayUnavailable when the
    gateway could not be asked again (503: it retries).  A disabled gateway's
    webhooks are still taken: payments started before are credited."""
    plugin = gateway_for(gateway, settings or current_settings())
    with db.read() as session:
        if session.get(PaymentGateway, gateway) is None:
            raise UnknownGateway(f"the payment gateway {gateway[:40]!r} is not set up")
        setup = load_setup(session, gateway)
    events = plugin.verify_webhook(body, headers, setup.config)
    actor = Actor("gateway", gateway)
    return [apply_gateway_event(db, gateway=gateway, event=e, actor=actor) for e in events]


# --- the owner ---------------------------------------------------------------------------


def _is_manual(code: str) -> bool:
    gateway = installed_gateways().get(code)
    return bool(gateway is not None and gateway.manual)


def approve_deposit(
    db: Database, *, deposit_id: int, actor: Actor, note: str = ""
) -> DepositOutcome:
    """The owner credits a manual transfer they received, or a held payment
    (with its amount as made: the credit fixed at creation, and its bonus)."""
    with db.write() as session:
        deposit = _locked(session, deposit_id)
        before = deposit.state
        if not (before == S.HELD or (before in MANUAL_OPEN and _is_manual(deposit.gateway))):
            raise DepositStateError(_cannot("approve", deposit))
        credited = credit_deposit(session, deposit, actor=str(actor))
        deposit.paid_at = utcnow()
        move_deposit_state(
            session, deposit=deposit, to=S.PAID, kind="approve", actor=str(actor), note=note
        )
        resolve_alerts(session, kind=ALERT_HELD, subject=deposit_subject(deposit.id))
        record_audit(
            session,
            actor=actor,
            action=AuditAction.DEPOSIT_APPROVED,
            subject=deposit_subject(deposit.id),
            before={"state": before},
            after={
                "state": deposit.state,
                "credited": money(credited),
                "currency": deposit.account_currency,
                "note": note,
            },
        )
        return DepositOutcome(deposit.id, deposit.state, CREDITED, credited)


def reject_deposit(db: Database, *, deposit_id: int, actor: Actor, reason: str) -> DepositOutcome:
    """The owner closes a manual transfer that never came, or a held payment
    (to be returned at the gateway): nothing is credited, ever."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidDepositAmount("give a reason for the rejection")
    with db.write() as session:
        deposit = _locked(session, deposit_id)
        before = deposit.state
        if not (before == S.HELD or (before in MANUAL_OPEN and _is_manual(deposit.gateway))):
            raise DepositStateError(_cannot("reject", deposit))
        move_deposit_state(
            session, deposit=deposit, to=S.REJECTED, kind="reject", actor=str(actor), note=reason
        )
        resolve_alerts(session, kind=ALERT_HELD, subject=deposit_subject(deposit.id))
        record_audit(
            session,
            actor=actor,
            action=AuditAction.DEPOSIT_REJECTED,
            subject=deposit_subject(deposit.id),
            before={"state": before},
            after={"state": deposit.state, "reason": reason[:500]},
        )
        return DepositOutcome(deposit.id, deposit.state, MOVED)


def _cannot(verb: str, deposit: Deposit) -> str:
    what = "a held deposit or an open manual transfer"
    return f"deposit {deposit.reference} is {deposit.state}: only {what} can be {verb}d"


# --- asking the gateway again ------------------------------------------------------------


def check_deposit(
    db: Database, *, deposit_id: int, actor: Actor, settings: Settings | None = None
) -> DepositOutcome:
    """Ask the deposit's gateway where its payment stands and apply the answer
    (the owner's `deposits check`; audited).  GatewayUnavailable when it cannot."""
    outcome = _ask_gateway(db, deposit_id, actor, settings or current_settings())
    with db.write() as session:
        record_audit(
            session,
            actor=actor,
            action=AuditAction.DEPOSIT_CHECKED,
            subject=deposit_subject(deposit_id),
            after={"state": outcome.state, "result": outcome.result},
        )
    return outcome


def _ask_gateway(db: Database, deposit_id: int, actor: Actor, settings: Settings) -> DepositOutcome:
    plugin: Gateway
    with db.read() as session:
        deposit = session.get(Deposit, deposit_id)
        if deposit is None:
            raise DepositNotFound(f"no deposit {deposit_id}")
        plugin = gateway_for(deposit.gateway, settings)
        setup = load_setup(session, deposit.gateway)
        ref = _deposit_ref(session, deposit, settings.public_url)
    event = plugin.fetch_payment(ref, setup.config)
    if event is None:
        return DepositOutcome(deposit.id, deposit.state, UNCHANGED)
    # The answer is about this deposit, whatever ids the gateway echoes.
    event = replace(event, deposit_id=deposit.id)
    return apply_gateway_event(db, gateway=deposit.gateway, event=event, actor=actor, kind="check")


def check_pending_deposits(db: Database, settings: Settings | None = None) -> int:
    """The worker's reconciliation: ask the gateway about each deposit left
    created or pending longer than deposit_check_after_minutes, and mark
    expired those still open deposit_expire_hours after they were made.
    Returns how many deposits it looked at."""
    settings = settings or current_settings()
    now = utcnow()
    check_before = now - _minutes(settings.deposit_check_after_minutes)
    expire_before = now - _minutes(60 * settings.deposit_expire_hours)
    with db.read() as session:
        ids = list(
            session.scalars(
                select(Deposit.id)
                .where(
                    Deposit.state.in_([S.CREATED.value, S.PENDING.value]),
                    Deposit.updated_at <= check_before,
                )
                .order_by(Deposit.updated_at)
                .limit(500)
            )
        )
    for deposit_id in ids:
        try:
            _ask_gateway(db, deposit_id, Actor.worker(), settings)
        except (GatewayUnavailable, UnknownGateway) as exc:
            log.warning("deposit %s: its gateway was not asked: %s", deposit_id, exc)
        except Exception:  # a plug-in's bug must not stop the others' checks
            log.exception("deposit %s: asking its gateway failed", deposit_id)
        _expire_if_old(db, deposit_id, expire_before)
    return len(ids)


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def _expire_if_old(db: Database, deposit_id: int, expire_before: datetime) -> None:
    with db.write() as session:
        deposit = _locked(session, deposit_id)
        open_state = deposit.state in (S.CREATED, S.PENDING)
        if open_state and as_utc(deposit.created_at) <= expire_before:
            move_deposit_state(
                session,
                deposit=deposit,
                to=S.EXPIRED,
                kind="expire",
                actor=str(Actor.worker()),
                note="no payment in time",
            )


def deposit_check_job(db: Database, _payload: dict[str, Any], *, settings: Settings) -> None:
    """The DEPOSIT_CHECK job's handler (smmpanel/worker.py)."""
    check_pending_deposits(db, settings)
