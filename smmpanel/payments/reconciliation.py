"""Reconciliation: asking a gateway again where a deposit's payment stands
(the owner's `deposits check`, and the worker's DEPOSIT_CHECK job for deposits
left pending), and expiring deposits nobody paid in time."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from smmpanel.audit.models import Actor, AuditAction
from smmpanel.audit.service import record_audit
from smmpanel.config import Settings, current_settings
from smmpanel.db import Database
from smmpanel.payments.crediting import (
    CHECK,
    UNCHANGED,
    DepositOutcome,
    apply_gateway_event,
    deposit_subject,
)
from smmpanel.payments.deposits import deposit_ref, locked_deposit
from smmpanel.payments.errors import DepositNotFound, UnknownGateway
from smmpanel.payments.gateway import Gateway, GatewayUnavailable
from smmpanel.payments.models import Deposit
from smmpanel.payments.registry import gateway_for
from smmpanel.payments.setup import load_setup
from smmpanel.payments.states import DepositState, move_deposit_state
from smmpanel.timeutil import as_utc, utcnow

log = logging.getLogger("smmpanel.payments")

S = DepositState
# Deposits one run of the job looks at, oldest first (the rest wait for the next run).
BATCH = 500


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
        ref = deposit_ref(session, deposit, settings.public_url)
    event = plugin.fetch_payment(ref, setup.config)
    if event is None:
        return DepositOutcome(deposit.id, deposit.state, UNCHANGED)
    # The answer is about this deposit, whatever ids the gateway echoes.
    event = replace(event, deposit_id=deposit.id)
    return apply_gateway_event(db, gateway=deposit.gateway, event=event, actor=actor, kind=CHECK)


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
                .limit(BATCH)
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
        deposit = locked_deposit(session, deposit_id)
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
