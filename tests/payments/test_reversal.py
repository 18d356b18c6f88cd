"""A refund or chargeback reported by the gateway: what is still on the
balance is taken back, the rest recorded as owed, and the owner alerted."""

from __future__ import annotations

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.models import CHARGE
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.ledger.service import post_entry
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.gateway import EventKind
from smmpanel.payments.service import receive_webhook
from tests.factories import make_customer
from tests.payments.fakes import FakeGateway, event, webhook
from tests.payments.helpers import alerts, balance, deposit_of, entries, start

GATEWAY = Actor("gateway", "fake")
PAID, REVERSED = EventKind.PAID, EventKind.REVERSED


def _paid(db: Database, account_id: int, amount: str) -> int:
    deposit_id = start(db, account_id, amount)
    body, headers = webhook(PAID, deposit_id, amount, "USD")
    assert receive_webhook(db, gateway="fake", body=body, headers=headers)[0].result == "credited"
    return deposit_id


def _reverse(db: Database, deposit_id: int, event_id: str = "evt_r") -> tuple[str, int, int]:
    body, headers = webhook(REVERSED, deposit_id, None, None, event_id=event_id)
    [outcome] = receive_webhook(db, gateway="fake", body=body, headers=headers)
    return outcome.result, outcome.debited, outcome.owed


def _spend(db: Database, account_id: int, units: int) -> None:
    with db.write() as session:
        post_entry(session, account_id=account_id, kind=CHARGE, amount=-units, actor="test")


def test_a_reversal_takes_back_the_credit_and_the_bonus_when_still_there(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="7")
    deposit_id = _paid(db, alice.id, "100")  # credits 100 + 5 bonus
    assert _reverse(db, deposit_id) == ("reversed", 10_500_000, 0)
    assert balance(db, alice.id) == 700_000
    assert entries(db, alice.id)[-1] == (
        "adjustment",
        -10_500_000,
        f"reversal:deposit:{deposit_id}",
        f"Reversal of deposit D-{deposit_id:06d}",
    )
    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.owed_amount) == ("reversed", 0)
    assert alerts(db) == [("deposit_reversed", f"deposit:{deposit_id}")]
    assert find_balance_mismatches(db) == []


def test_a_reversal_of_money_partly_spent_debits_what_is_there_and_records_the_rest_owed(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = _paid(db, alice.id, "50")
    _spend(db, alice.id, 3_012_345)  # 30.12345 spent on orders
    assert _reverse(db, deposit_id) == ("reversed", 1_987_655, 3_012_345)
    assert balance(db, alice.id) == 0
    assert deposit_of(db, deposit_id).owed_amount == 3_012_345
    subject = f"deposit:{deposit_id}"
    assert alerts(db) == [("deposit_reversed", subject), ("deposit_owed", subject)]
    assert find_balance_mismatches(db) == []


def test_a_reversal_of_money_all_spent_debits_nothing_and_owes_it_all(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = _paid(db, alice.id, "10")
    _spend(db, alice.id, 1_000_000)
    assert _reverse(db, deposit_id) == ("reversed", 0, 1_000_000)
    assert [e[0] for e in entries(db, alice.id)] == ["topup", "charge"]
    assert find_balance_mismatches(db) == []


def test_a_reversal_reported_twice_debits_once(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="10")
    deposit_id = _paid(db, alice.id, "20")
    assert _reverse(db, deposit_id)[0] == "reversed"
    assert _reverse(db, deposit_id, event_id="evt_r2") == ("unchanged", 0, 0)
    assert balance(db, alice.id) == 1_000_000
    assert len([e for e in entries(db, alice.id) if e[0] == "adjustment"]) == 1
    assert len(alerts(db)) == 1
    assert find_balance_mismatches(db) == []


def test_a_reversal_before_the_payment_moves_no_money_and_a_late_paid_credits_nothing(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    assert _reverse(db, deposit_id) == ("reversed", 0, 0)
    assert deposit_of(db, deposit_id).state == "reversed"
    outcome = apply_gateway_event(
        db, gateway="fake", event=event(PAID, deposit_id, "20"), actor=GATEWAY
    )
    assert outcome.result == "unchanged"
    assert balance(db, alice.id) == 0
    assert entries(db, alice.id) == []
    assert alerts(db) == []
    assert find_balance_mismatches(db) == []


def test_a_reversal_of_a_held_payment_closes_it_without_money(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    apply_gateway_event(db, gateway="fake", event=event(PAID, deposit_id, "2"), actor=GATEWAY)
    assert _reverse(db, deposit_id) == ("reversed", 0, 0)
    assert entries(db, alice.id) == []
    assert find_balance_mismatches(db) == []


def test_a_partial_refund_takes_nothing_back_by_itself_and_the_full_one_reverses(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = _paid(db, alice.id, "100")
    body, headers = webhook(REVERSED, deposit_id, "30", "USD", event_id="evt_r1")
    [outcome] = receive_webhook(db, gateway="fake", body=body, headers=headers)
    assert (outcome.result, outcome.state, outcome.debited) == ("unchanged", "paid", 0)
    assert balance(db, alice.id) == 10_500_000
    assert alerts(db) == [("deposit_partly_refunded", f"deposit:{deposit_id}")]
    # Refunded in full (gateways report the total so far): the whole credit goes back.
    body, headers = webhook(REVERSED, deposit_id, "100", "USD", event_id="evt_r2")
    [outcome] = receive_webhook(db, gateway="fake", body=body, headers=headers)
    assert (outcome.result, outcome.debited) == ("reversed", 10_500_000)
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []
