"""Applying one normalised gateway event to its deposit: the money step.

One transaction per event.  The deposit row is locked first (FOR UPDATE on
PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers), so of ten copies of
one webhook arriving at once, the first credits and the others find the
deposit paid; the unique ledger cause ``deposit:{id}`` is the last guard.
Every event leaves a deposit_events row, whether it changed anything or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from smmpanel.accounts.models import Account
from smmpanel.audit.models import Actor
from smmpanel.db import Database, transaction
from smmpanel.ledger import causes
from smmpanel.ledger.errors import AlreadyPosted
from smmpanel.ledger.models import ADJUSTMENT, TOPUP
from smmpanel.ledger.service import post_entry
from smmpanel.money import MAX_BALANCE_UNITS, SCALE, format_units
from smmpanel.panel.alerts import raise_alert, resolve_alerts
from smmpanel.payments.deposits import external_id_taken
from smmpanel.payments.gateway import EventKind, GatewayEvent
from smmpanel.payments.models import Deposit
from smmpanel.payments.registry import installed_gateways
from smmpanel.payments.setup import stored_settings
from smmpanel.payments.states import DepositState, move_deposit_state, record_event
from smmpanel.timeutil import utcnow

log = logging.getLogger("smmpanel.payments")

MAX_ID = 2**31  # deposits.id is a 32-bit column

S = DepositState
# States a payment may still arrive in (late ones too: money received is credited).
PAYABLE = frozenset({S.CREATED, S.PENDING, S.FAILED, S.EXPIRED})
ALERT_HELD = "deposit_held"
ALERT_REVERSED = "deposit_reversed"
ALERT_OWED = "deposit_owed"
ALERT_PARTLY_REFUNDED = "deposit_partly_refunded"

# Where an event came from, in the deposit's history.
WEBHOOK, CHECK = "webhook", "check"
# What applying an event did (DepositOutcome.result).
CREDITED, HELD, REVERSED, MOVED, UNCHANGED, UNKNOWN = (
    "credited",
    "held",
    "reversed",
    "moved",
    "unchanged",
    "unknown",
)


@dataclass(frozen=True)
class DepositOutcome:
    """What one event (or approval, or check) did to its deposit.  Amounts are
    minor units of the account's currency."""

    deposit_id: int | None  # None: no deposit of this gateway matched the event
    state: str | None
    result: str  # credited, held, reversed, moved, unchanged, unknown
    credited: int = 0  # credit and bonus posted now
    debited: int = 0  # taken back by a reversal
    owed: int = 0  # what a reversal could not take back


def deposit_subject(deposit_id: int) -> str:
    return f"deposit:{deposit_id}"


def apply_gateway_event(
    db: Database | Session,
    *,
    gateway: str,
    event: GatewayEvent,
    actor: Actor,
    kind: str = WEBHOOK,
) -> DepositOutcome:
    """Apply a verified `event` of `gateway` to its deposit, in one transaction
    (the caller's, when given a session).  `kind` names the source in the
    deposit's history: webhook, or check (reconciliation)."""
    with transaction(db) as session:
        deposit = _locate(session, gateway, event)
        if deposit is None:
            log.warning(
                "payment event %r of %s names no deposit (deposit %s, payment %r)",
                event.event_id[:80],
                gateway,
                event.deposit_id,
                (event.external_id or "")[:80],
            )
            return DepositOutcome(None, None, UNKNOWN)
        step = _Step(session, deposit, event, str(actor), kind)
        return step.run()


def _locate(session: Session, gateway: str, event: GatewayEvent) -> Deposit | None:
    query = select(Deposit).where(Deposit.gateway == gateway).with_for_update()
    if event.deposit_id is not None:
        if not 0 < event.deposit_id < MAX_ID:
            return None  # not an id of ours (and not a query PostgreSQL would take)
        query = query.where(Deposit.id == event.deposit_id)
    elif event.external_id:
        query = query.where(Deposit.external_id == event.external_id)
    else:
        return None
    return session.scalars(query).first()


def gateway_title(session: Session, code: str) -> str:
    """The name customers see: the owner's title, else the gateway's own."""
    title = stored_settings(session, code).get("title")
    gateway = installed_gateways().get(code)
    return title or (gateway.title if gateway is not None else code)


class _Step:
    """One event applied to one locked deposit."""

    def __init__(
        self, session: Session, deposit: Deposit, event: GatewayEvent, actor: str, kind: str
    ) -> None:
        self.session, self.deposit, self.event = session, deposit, event
        self.actor, self.kind = actor, kind

    def run(self) -> DepositOutcome:
        if not self._same_payment():
            return self._unchanged("the gateway's payment id differs from the deposit's")
        if self.event.kind == EventKind.PAID:
            return self._paid()
        if self.event.kind == EventKind.REVERSED:
            return self._reversed()
        target = {
            EventKind.PENDING: S.PENDING,
            EventKind.FAILED: S.FAILED,
            EventKind.EXPIRED: S.EXPIRED,
        }[self.event.kind]
        # PENDING only moves a deposit on from created; FAILED and EXPIRED close
        # an open one, never a paid or held one (an event out of order).
        sources = {S.CREATED} if target == S.PENDING else {S.CREATED, S.PENDING}
        if self.deposit.state in sources:
            self._move(target)
            return self._outcome(MOVED)
        return self._unchanged(f"{self.event.kind.value} after {self.deposit.state}")

    def _same_payment(self) -> bool:
        """Adopt the gateway's payment id when the deposit has none yet; False
        (and an alert) when it names another payment than the deposit's."""
        reported, stored = self.event.external_id, self.deposit.external_id
        if not reported or reported == stored:
            return True
        if stored is None and not external_id_taken(self.session, self.deposit.gateway, reported):
            self.deposit.external_id = reported[:255]
            return True
        raise_alert(
            self.session,
            kind=ALERT_HELD,
            subject=deposit_subject(self.deposit.id),
            message=f"Deposit {self.deposit.reference}: {self.deposit.gateway} reported a "
            "payment that is not the deposit's; check it at the gateway.",
        )
        return False

    # --- PAID ---------------------------------------------------------------------

    def _paid(self) -> DepositOutcome:
        deposit = self.deposit
        if deposit.state not in PAYABLE and deposit.state != S.HELD:
            return self._unchanged(f"paid again ({deposit.state})")
        self._note_paid_amount()
        if not self._amount_matches():
            if deposit.state == S.HELD:
                return self._unchanged("still not the deposit's amount")
            self._move(S.HELD, note="the amount or currency paid differs from the deposit's")
            raise_alert(
                self.session,
                kind=ALERT_HELD,
                subject=deposit_subject(deposit.id),
                message=f"Deposit {deposit.reference} is held: {self._paid_text()} was paid "
                f"for {format_units(deposit.amount)} {deposit.currency}.  Approve or reject "
                f"it: `smmpanel deposits approve|reject {deposit.id}`.",
            )
            return self._outcome(HELD)
        if over_balance_cap(self.session, deposit):
            if deposit.state == S.HELD:
                return self._unchanged("the credit would take the balance past its limit")
            self._move(S.HELD, note="the credit would take the balance past the largest one kept")
            raise_alert(
                self.session,
                kind=ALERT_HELD,
                subject=deposit_subject(deposit.id),
                message=f"Deposit {deposit.reference} is held: crediting it would take the "
                "balance past the largest a panel keeps; return it at the gateway and "
                f"reject it: `smmpanel deposits reject {deposit.id}`.",
            )
            return self._outcome(HELD)
        if account_currency_changed(self.session, deposit):
            if deposit.state == S.HELD:
                return self._unchanged("the account's currency changed since the deposit")
            self._move(S.HELD, note="the account's currency changed since the deposit was made")
            raise_alert(
                self.session,
                kind=ALERT_HELD,
                subject=deposit_subject(deposit.id),
                message=f"Deposit {deposit.reference} is held: it was paid, but its account "
                f"no longer keeps {deposit.account_currency}; fund the account by hand and "
                f"reject the deposit: `smmpanel deposits reject {deposit.id}`.",
            )
            return self._outcome(HELD)
        credited = credit_deposit(self.session, deposit, actor=self.actor)
        deposit.paid_at = utcnow()
        self._move(S.PAID)
        # A held deposit the gateway now says was paid in full: nothing left to decide.
        resolve_alerts(self.session, kind=ALERT_HELD, subject=deposit_subject(deposit.id))
        return self._outcome(CREDITED, credited=credited)

    def _amount_matches(self) -> bool:
        event, deposit = self.event, self.deposit
        if event.amount is None or event.currency is None:
            return False
        if event.currency.strip().upper() != deposit.currency:
            return False
        return bool(event.amount * SCALE == deposit.amount)

    def _note_paid_amount(self) -> None:
        event = self.event
        if event.amount is not None and event.amount.is_finite() and event.amount >= 0:
            units = event.amount * SCALE
            if units == units.to_integral_value() and units < 2**62:
                self.deposit.paid_amount = int(units)
        if event.currency:
            self.deposit.paid_currency = event.currency.strip().upper()[:8]

    def _paid_text(self) -> str:
        amount = "an unknown amount" if self.event.amount is None else str(self.event.amount)
        return f"{amount} {self.event.currency or ''}".strip()

    # --- REVERSED -----------------------------------------------------------------

    def _reversed(self) -> DepositOutcome:
        deposit = self.deposit
        if deposit.state in PAYABLE or deposit.state == S.HELD:
            # Never credited: close it, so that a PAID arriving late credits nothing.
            self._move(S.REVERSED, note="reversed before it was credited")
            return self._outcome(REVERSED)
        if deposit.state != S.PAID:
            return self._unchanged(f"reversed again ({deposit.state})")
        if self._partial_refund():
            return self._partly_refunded()
        debited, owed = reverse_deposit(self.session, deposit, actor=self.actor)
        self._move(S.REVERSED)
        return self._outcome(REVERSED, debited=debited, owed=owed)

    def _partial_refund(self) -> bool:
        """A refund of part of the payment (in the deposit's currency, less than
        its amount): the gateways report what was refunded so far, so the whole
        reversal comes when the rest is refunded too."""
        event, deposit = self.event, self.deposit
        if event.amount is None or (event.currency or "").strip().upper() != deposit.currency:
            return False
        return bool(0 <= event.amount * SCALE < deposit.amount)

    def _partly_refunded(self) -> DepositOutcome:
        deposit = self.deposit
        raise_alert(
            self.session,
            kind=ALERT_PARTLY_REFUNDED,
            subject=deposit_subject(deposit.id),
            message=f"Deposit {deposit.reference} was partly refunded at {deposit.gateway} "
            f"({self._paid_text()} of {format_units(deposit.amount)} {deposit.currency}); "
            "nothing was taken back from the balance: take back what you mean to with "
            "`smmpanel users fund NAME -AMOUNT`.",
        )
        return self._unchanged("a partial refund: the owner decides")

    # --- the history ----------------------------------------------------------------

    def _move(self, to: DepositState, note: str = "") -> None:
        move_deposit_state(
            self.session,
            deposit=self.deposit,
            to=to,
            kind=self.kind,
            actor=self.actor,
            event_id=self.event.event_id,
            payload=self.event.payload,
            note=note or self.event.kind.value,
        )

    def _unchanged(self, why: str) -> DepositOutcome:
        if self.kind == CHECK:
            # Our own polling: the worker asks about an open deposit every few
            # minutes, and "still pending" is not worth a row each time.
            return self._outcome(UNCHANGED)
        record_event(
            self.session,
            deposit=self.deposit,
            from_state=self.deposit.state,
            kind=self.kind,
            actor=self.actor,
            event_id=self.event.event_id,
            payload=self.event.payload,
            note=f"{self.event.kind.value}: changed nothing ({why})",
        )
        return self._outcome(UNCHANGED)

    def _outcome(
        self, result: str, *, credited: int = 0, debited: int = 0, owed: int = 0
    ) -> DepositOutcome:
        return DepositOutcome(self.deposit.id, self.deposit.state, result, credited, debited, owed)


def over_balance_cap(session: Session, deposit: Deposit) -> bool:
    """Whether the credit and bonus would take the balance past MAX_BALANCE (as
    `users fund` refuses to): such a payment is held, never credited in part."""
    balance = session.scalar(select(Account.balance).where(Account.id == deposit.account_id))
    return (balance or 0) + deposit.credit_amount + deposit.bonus_amount > MAX_BALANCE_UNITS


def account_currency_changed(session: Session, deposit: Deposit) -> bool:
    """Whether the account moved to another currency since the deposit fixed its
    credit in the old one (the credit's minor units would mean another sum)."""
    currency = session.scalar(select(Account.currency).where(Account.id == deposit.account_id))
    return currency != deposit.account_currency


def credit_deposit(session: Session, deposit: Deposit, *, actor: str) -> int:
    """Post the deposit's credit and bonus (each once: their causes are unique);
    returns what was posted now."""
    title = gateway_title(session, deposit.gateway)
    posted = 0
    entries = [
        (
            causes.deposit_credit(deposit.id),
            deposit.credit_amount,
            f"Deposit {deposit.reference} via {title}",
        ),
        (causes.deposit_bonus(deposit.id), deposit.bonus_amount, _bonus_note(deposit)),
    ]
    for cause, amount, note in entries:
        if amount <= 0:
            continue
        try:
            post_entry(
                session,
                account_id=deposit.account_id,
                kind=TOPUP,
                amount=amount,
                actor=actor[:64],
                cause=cause,
                note=note,
            )
        except AlreadyPosted:
            log.warning("deposit %s: %s was posted already", deposit.id, cause)
            continue
        posted += amount
    return posted


def _bonus_note(deposit: Deposit) -> str:
    percent = deposit.bonus_amount * 100 / deposit.credit_amount if deposit.credit_amount else 0
    return f"Bonus {percent:.4g}% on deposit {deposit.reference}"


def reverse_deposit(session: Session, deposit: Deposit, *, actor: str) -> tuple[int, int]:
    """Take back what the deposit credited, as far as the balance holds it;
    the rest is recorded as owed.  Alerts the owner.  Returns (debited, owed)."""
    wanted = deposit.credit_amount + deposit.bonus_amount
    # Locked, so that an order charged meanwhile cannot make the debit fail.
    balance = session.execute(
        select(Account.balance).where(Account.id == deposit.account_id).with_for_update()
    ).scalar_one()
    # Taken back in the currency it was credited in, or not at all (then all owed).
    debit = 0 if account_currency_changed(session, deposit) else min(balance, wanted)
    if debit > 0:
        try:
            post_entry(
                session,
                account_id=deposit.account_id,
                kind=ADJUSTMENT,
                amount=-debit,
                actor=actor[:64],
                cause=causes.deposit_reversal(deposit.id),
                note=f"Reversal of deposit {deposit.reference}",
            )
        except AlreadyPosted:
            return 0, deposit.owed_amount
    deposit.owed_amount = wanted - debit
    subject = deposit_subject(deposit.id)
    currency = deposit.account_currency
    raise_alert(
        session,
        kind=ALERT_REVERSED,
        subject=subject,
        message=f"Deposit {deposit.reference} was refunded or charged back at "
        f"{deposit.gateway}: {format_units(debit)} {currency} taken back from the balance.",
    )
    if deposit.owed_amount:
        raise_alert(
            session,
            kind=ALERT_OWED,
            subject=subject,
            message=f"Deposit {deposit.reference} was reversed after it was spent: the "
            f"customer owes {format_units(deposit.owed_amount)} {currency}.",
        )
    return debit, deposit.owed_amount
