"""Deposits: starting one, the gateway's webhooks, the owner's approval or
rejection, and asking a gateway again (reconciliation).

One transaction per state change; a gateway is called only outside any
transaction (its operations may take seconds).  Nothing credits without a
verified gateway event (crediting.apply_gateway_event) or the owner's approval.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import money, record_audit
from smmpanel.config import Settings, current_settings
from smmpanel.db import Database
from smmpanel.money import SCALE, MoneyError, parse_exact, plain_decimal
from smmpanel.panel.alerts import resolve_alerts
from smmpanel.payments.bonus import applicable_rule, bonus_units
from smmpanel.payments.conversion import convert_amount
from smmpanel.payments.crediting import (
    ALERT_HELD,
    CREDITED,
    MOVED,
    DepositOutcome,
    account_currency_changed,
    apply_gateway_event,
    credit_deposit,
    deposit_subject,
    over_balance_cap,
)
from smmpanel.payments.deposits import (
    deposit_ref,
    external_id_taken,
    locked_deposit,
    reference_of,
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
    GatewayUnavailable,
    PaymentStart,
)
from smmpanel.payments.models import Deposit, PaymentGateway
from smmpanel.payments.reconciliation import (
    check_deposit,
    check_pending_deposits,
    deposit_check_job,
)
from smmpanel.payments.registry import gateway_for, installed_gateways
from smmpanel.payments.setup import MAX_DEPOSIT, GatewaySetup, load_setup
from smmpanel.payments.states import DepositState, move_deposit_state, record_event
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.payments")

S = DepositState
# A deposit's amount: what a customer types, in the gateway's currency.
PAYMENT_PLACES = 2
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
    "deposit_check_job",
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
        ref = deposit_ref(session, deposit, panel_url)
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


def _fail_start(db: Database, deposit_id: int, why: str, actor: Actor) -> None:
    with db.write() as session:
        deposit = locked_deposit(session, deposit_id)
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
        deposit = locked_deposit(session, deposit_id)
        external_id = (start.external_id or "")[:255] or None
        reused = (
            external_id is not None
            and deposit.external_id != external_id
            and external_id_taken(session, deposit.gateway, external_id)
        )
        if not reused:
            deposit.external_id = deposit.external_id or external_id
            deposit.redirect_url = redirect
            deposit.instructions = start.instructions
            if deposit.state == S.CREATED:  # a webhook may have been quicker
                move_deposit_state(
                    session, deposit=deposit, to=S.PENDING, kind="start", actor=str(actor)
                )
            return StartedDeposit(
                deposit.id,
                deposit.reference,
                deposit.state,
                deposit.redirect_url,
                deposit.instructions,
            )
    # The unique (gateway, external_id) would refuse it: a gateway's bug.
    _fail_start(db, deposit_id, "the gateway returned another deposit's payment id", actor)
    raise GatewayUnavailable("the payment gateway returned a payment id already in use")


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
        deposit = locked_deposit(session, deposit_id)
        before = deposit.state
        if not (before == S.HELD or (before in MANUAL_OPEN and _is_manual(deposit.gateway))):
            raise DepositStateError(_cannot("approve", deposit))
        if over_balance_cap(session, deposit):
            raise DepositStateError(
                f"crediting deposit {deposit.id} would take the balance past the largest "
                "a panel keeps; return it at the gateway and reject it"
            )
        if account_currency_changed(session, deposit):
            raise DepositStateError(
                f"deposit {deposit.id} fixed its credit in {deposit.account_currency}, and "
                "its account keeps another currency now: fund the account by hand and "
                "reject the deposit"
            )
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
        deposit = locked_deposit(session, deposit_id)
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
