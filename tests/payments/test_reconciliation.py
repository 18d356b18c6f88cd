"""Reconciliation: the worker asks the gateway about deposits left pending,
credits what it says was paid, and expires what stayed open too long."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.jobs.kinds import JobKind
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.payments.gateway import EventKind
from smmpanel.payments.models import Deposit
from smmpanel.payments.service import check_deposit, check_pending_deposits
from smmpanel.timeutil import utcnow
from smmpanel.worker import build_worker, handlers, schedules
from tests.factories import make_customer
from tests.payments.fakes import FakeGateway, event
from tests.payments.helpers import balance, deposit_of, events, start

SETTINGS = Settings(deposit_check_after_minutes=15, deposit_expire_hours=48)


def _age(db: Database, deposit_id: int, *, minutes: int) -> None:
    """Make the deposit look made (and last changed) `minutes` ago."""
    then = utcnow() - timedelta(minutes=minutes)
    with db.write() as session:
        session.execute(
            update(Deposit).where(Deposit.id == deposit_id).values(created_at=then, updated_at=then)
        )


def test_a_deposit_pending_past_the_wait_is_looked_up_and_credited(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    old, recent = start(db, alice.id, "20"), start(db, alice.id, "30")
    _age(db, old, minutes=16)
    _age(db, recent, minutes=14)
    for deposit_id, amount in ((old, "20"), (recent, "30")):
        FakeGateway.answers[deposit_id] = event(EventKind.PAID, None, amount, event_id="chk")
    assert check_pending_deposits(db, SETTINGS) == 1
    assert (deposit_of(db, old).state, deposit_of(db, recent).state) == ("paid", "pending")
    assert balance(db, alice.id) == 2_000_000
    assert events(db, old)[-1] == ("check", "pending", "paid")
    # Asked again: nothing is pending past the wait, nothing more is credited.
    assert check_pending_deposits(db, SETTINGS) == 0
    assert balance(db, alice.id) == 2_000_000
    assert find_balance_mismatches(db) == []


def test_a_deposit_still_unpaid_past_the_expiry_is_expired_and_a_younger_one_waits(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    stale, waiting = start(db, alice.id, "20"), start(db, alice.id, "20")
    _age(db, stale, minutes=48 * 60 + 1)
    _age(db, waiting, minutes=60)
    assert check_pending_deposits(db, SETTINGS) == 2
    assert deposit_of(db, stale).state == "expired"
    assert events(db, stale)[-1] == ("expire", "pending", "expired")
    assert deposit_of(db, waiting).state == "pending"
    assert balance(db, alice.id) == 0


def test_an_unreachable_gateway_is_logged_and_the_deposit_still_expires_in_time(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    stale = start(db, alice.id, "20")
    _age(db, stale, minutes=49 * 60)
    FakeGateway.down = True
    assert check_pending_deposits(db, SETTINGS) == 1
    assert deposit_of(db, stale).state == "expired"


def test_the_owner_checks_one_deposit_and_the_check_is_audited(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    FakeGateway.answers[deposit_id] = event(EventKind.PAID, None, "20", event_id="chk")
    outcome = check_deposit(db, deposit_id=deposit_id, actor=Actor("cli", "owner"))
    assert (outcome.state, outcome.result, outcome.credited) == ("paid", "credited", 2_000_000)
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions[-1] == "deposit_checked"
    assert find_balance_mismatches(db) == []


def test_the_worker_runs_the_check_on_its_schedule() -> None:
    settings = Settings(deposit_check_seconds=120)
    assert JobKind.DEPOSIT_CHECK in handlers(settings)
    spec = {s.name: s for s in schedules(settings)}["deposit_check"]
    assert (spec.kind, spec.interval_seconds) == (JobKind.DEPOSIT_CHECK, 120)


def test_the_worker_credits_a_deposit_its_gateway_says_was_paid(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    _age(db, deposit_id, minutes=30)
    FakeGateway.answers[deposit_id] = event(EventKind.PAID, None, "20", event_id="chk")
    worker = build_worker(db, settings=SETTINGS)
    assert worker.run_once() >= 1
    assert deposit_of(db, deposit_id).state == "paid"
    assert balance(db, alice.id) == 2_000_000
    assert find_balance_mismatches(db) == []


def test_a_gateway_saying_still_pending_changes_nothing_and_adds_no_history(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    _age(db, deposit_id, minutes=30)
    FakeGateway.answers[deposit_id] = event(EventKind.PENDING, None, event_id="chk")
    before = events(db, deposit_id)
    for _ in range(3):
        assert check_pending_deposits(db, SETTINGS) == 1
    assert deposit_of(db, deposit_id).state == "pending"
    assert events(db, deposit_id) == before
