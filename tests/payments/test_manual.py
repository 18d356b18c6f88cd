"""Manual transfer: instructions with a reference, then the owner approves
(credited once, audited) or rejects (no money)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.payments.errors import DepositStateError, InvalidDepositAmount
from smmpanel.payments.gateway import EventKind, WebhookRefused
from smmpanel.payments.models import Deposit
from smmpanel.payments.service import (
    approve_deposit,
    check_deposit,
    receive_webhook,
    reject_deposit,
    start_deposit,
)
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.payments.states import DepositState, move_deposit_state
from tests.factories import make_customer
from tests.payments.fakes import webhook
from tests.payments.helpers import PANEL, balance, deposit_of, entries, events

OWNER = Actor("cli", "owner")


@pytest.fixture
def manual(db: Database) -> None:
    values = {"instructions": "IBAN DE00 1234, Example Ltd", "bonus": "100:5"}
    configure_gateway(db, code="manual", values=values, actor=OWNER)
    enable_gateway(db, code="manual", actor=OWNER)


def _start(db: Database, account_id: int, amount: str) -> tuple[int, str | None]:
    started = start_deposit(
        db,
        account_id=account_id,
        gateway="manual",
        amount=amount,
        panel_url=PANEL,
        actor=Actor("web", "alice"),
    )
    assert started.redirect_url is None
    return started.deposit_id, started.instructions


def test_the_customer_sees_the_owners_instructions_with_reference_and_amount(
    db: Database, manual: None
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, instructions = _start(db, alice.id, "120")
    ref = f"D-{deposit_id:06d}"
    assert instructions is not None
    assert instructions.startswith("IBAN DE00 1234, Example Ltd\n\nAmount: 120.00 USD\n")
    assert f"Reference: {ref}" in instructions
    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.external_id, deposit.instructions) == (
        "pending",
        None,
        instructions,
    )
    assert balance(db, alice.id) == 0


def test_an_approved_transfer_is_credited_once_with_its_bonus_and_audited(
    db: Database, manual: None
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, _ = _start(db, alice.id, "120")
    outcome = approve_deposit(db, deposit_id=deposit_id, actor=OWNER, note="seen on statement")
    assert (outcome.state, outcome.result, outcome.credited) == ("paid", "credited", 12_600_000)
    ref = f"D-{deposit_id:06d}"
    assert entries(db, alice.id) == [
        ("topup", 12_000_000, f"deposit:{deposit_id}", f"Deposit {ref} via Bank transfer"),
        ("topup", 600_000, f"bonus:deposit:{deposit_id}", f"Bonus 5% on deposit {ref}"),
    ]
    with pytest.raises(DepositStateError):
        approve_deposit(db, deposit_id=deposit_id, actor=OWNER)
    assert balance(db, alice.id) == 12_600_000
    assert events(db, deposit_id)[-1] == ("approve", "pending", "paid")
    with db.read() as session:
        audit = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject, AuditEntry.details)
        ).all()[-1]
    assert audit[:3] == ("cli:owner", "deposit_approved", f"deposit:{deposit_id}")
    assert json.loads(audit[3]) == {
        "before": {"state": "pending"},
        "after": {
            "state": "paid",
            "credited": "126.00000",
            "currency": "USD",
            "note": "seen on statement",
        },
    }
    assert find_balance_mismatches(db) == []


def test_a_rejected_transfer_credits_nothing_and_needs_a_reason(db: Database, manual: None) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, _ = _start(db, alice.id, "50")
    with pytest.raises(InvalidDepositAmount, match="reason"):
        reject_deposit(db, deposit_id=deposit_id, actor=OWNER, reason="  ")
    reject_deposit(db, deposit_id=deposit_id, actor=OWNER, reason="no transfer arrived")
    assert deposit_of(db, deposit_id).state == "rejected"
    with pytest.raises(DepositStateError, match="is rejected"):
        approve_deposit(db, deposit_id=deposit_id, actor=OWNER)
    assert balance(db, alice.id) == 0
    assert entries(db, alice.id) == []
    assert find_balance_mismatches(db) == []


def test_a_late_transfer_is_approved_after_the_deposit_expired(db: Database, manual: None) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, _ = _start(db, alice.id, "10")
    with db.write() as session:
        deposit = session.get(Deposit, deposit_id)
        assert deposit is not None
        move_deposit_state(
            session, deposit=deposit, to=DepositState.EXPIRED, kind="expire", actor="worker"
        )
    assert approve_deposit(db, deposit_id=deposit_id, actor=OWNER).credited == 1_000_000
    assert find_balance_mismatches(db) == []


def test_a_manual_transfer_takes_no_webhook_and_has_nothing_to_look_up(
    db: Database, manual: None
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, _ = _start(db, alice.id, "10")
    body, headers = webhook(EventKind.PAID, deposit_id, "10")
    with pytest.raises(WebhookRefused):
        receive_webhook(db, gateway="manual", body=body, headers=headers)
    outcome = check_deposit(db, deposit_id=deposit_id, actor=OWNER)
    assert (outcome.state, outcome.result) == ("pending", "unchanged")
    assert balance(db, alice.id) == 0
