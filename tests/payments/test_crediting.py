"""Crediting: a verified PAID credits a deposit exactly once, whatever the
gateway sends, however often, in whatever order."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import select

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.models import TOPUP
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.ledger.service import post_entry
from smmpanel.money import MAX_BALANCE_UNITS
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.errors import DepositStateError
from smmpanel.payments.gateway import EventKind, WebhookRefused
from smmpanel.payments.models import DepositEvent
from smmpanel.payments.service import approve_deposit, receive_webhook, reject_deposit
from tests.factories import make_customer
from tests.payments.fakes import FakeGateway, event, webhook
from tests.payments.helpers import alerts, balance, deposit_of, entries, events, start

OWNER = Actor("cli", "owner")
GATEWAY = Actor("gateway", "fake")
PAID, FAILED, EXPIRED = EventKind.PAID, EventKind.FAILED, EventKind.EXPIRED


def _apply(db: Database, kind: EventKind, deposit_id: int, amount: str | None, **kw: str) -> str:
    outcome = apply_gateway_event(
        db, gateway="fake", event=event(kind, deposit_id, amount, **kw), actor=GATEWAY
    )
    return outcome.result


def test_a_paid_webhook_credits_the_deposit_and_its_bonus_as_two_entries(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "200")
    body, headers = webhook(PAID, deposit_id, "200.00", "usd")
    [outcome] = receive_webhook(db, gateway="fake", body=body, headers=headers)
    assert (outcome.deposit_id, outcome.state, outcome.result) == (deposit_id, "paid", "credited")
    assert outcome.credited == 21_000_000
    ref = f"D-{deposit_id:06d}"
    assert entries(db, alice.id) == [
        ("topup", 20_000_000, f"deposit:{deposit_id}", f"Deposit {ref} via Fake Pay"),
        ("topup", 1_000_000, f"bonus:deposit:{deposit_id}", f"Bonus 5% on deposit {ref}"),
    ]
    deposit = deposit_of(db, deposit_id)
    assert (deposit.paid_amount, deposit.paid_currency) == (20_000_000, "USD")
    assert deposit.paid_at is not None
    assert events(db, deposit_id)[-1] == ("webhook", "pending", "paid")
    assert find_balance_mismatches(db) == []


def test_the_same_webhook_again_credits_nothing_but_is_recorded(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    body, headers = webhook(PAID, deposit_id, "20", "USD")
    results = [receive_webhook(db, gateway="fake", body=body, headers=headers)[0] for _ in range(3)]
    assert [r.result for r in results] == ["credited", "unchanged", "unchanged"]
    assert balance(db, alice.id) == 2_000_000
    assert events(db, deposit_id)[-2:] == [("webhook", "paid", "paid"), ("webhook", "paid", "paid")]
    assert find_balance_mismatches(db) == []


def test_ten_concurrent_copies_of_one_webhook_credit_once(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "150")
    body, headers = webhook(PAID, deposit_id, "150", "USD")
    barrier = threading.Barrier(10)
    results: list[str] = []
    errors: list[BaseException] = []

    def send() -> None:
        barrier.wait()
        try:
            outcomes = receive_webhook(db, gateway="fake", body=body, headers=headers)
            results.extend(o.result for o in outcomes)
        except BaseException as exc:  # collected: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == ["credited"] + ["unchanged"] * 9
    assert balance(db, alice.id) == 15_750_000  # 150 + 5%
    assert len(entries(db, alice.id)) == 2
    assert find_balance_mismatches(db) == []


def test_a_wrong_signature_is_refused_and_changes_nothing(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    before = events(db, deposit_id)
    body, headers = webhook(PAID, deposit_id, "20", "USD", secret="not-the-secret")
    with pytest.raises(WebhookRefused):
        receive_webhook(db, gateway="fake", body=body, headers=headers)
    with pytest.raises(WebhookRefused):
        receive_webhook(db, gateway="fake", body=body, headers={})
    assert deposit_of(db, deposit_id).state == "pending"
    assert events(db, deposit_id) == before
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("19.99", "USD"), ("20.01", "USD"), ("20", "EUR"), (None, "USD"), ("20", None)],
)
def test_a_payment_that_does_not_match_is_held_and_alerted_not_credited(
    db: Database, fake_gateway: type[FakeGateway], amount: str | None, currency: str | None
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    assert _apply(db, PAID, deposit_id, amount, currency=currency) == "held"  # type: ignore[arg-type]
    assert deposit_of(db, deposit_id).state == "held"
    assert balance(db, alice.id) == 0
    assert alerts(db) == [("deposit_held", f"deposit:{deposit_id}")]
    # The same mismatch again: still held, one alert.
    assert _apply(db, PAID, deposit_id, amount, currency=currency) == "unchanged"  # type: ignore[arg-type]
    assert alerts(db) == [("deposit_held", f"deposit:{deposit_id}")]
    assert find_balance_mismatches(db) == []


def test_the_owner_approves_a_held_payment_once_and_the_alert_is_resolved(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    _apply(db, PAID, deposit_id, "19")
    outcome = approve_deposit(db, deposit_id=deposit_id, actor=OWNER, note="customer topped up")
    assert (outcome.state, outcome.credited) == ("paid", 2_000_000)
    assert balance(db, alice.id) == 2_000_000
    assert alerts(db) == []
    with pytest.raises(DepositStateError, match="is paid"):
        approve_deposit(db, deposit_id=deposit_id, actor=OWNER)
    # A later genuine PAID credits nothing more.
    assert _apply(db, PAID, deposit_id, "20") == "unchanged"
    assert balance(db, alice.id) == 2_000_000
    assert events(db, deposit_id)[-2][0] == "approve"
    assert find_balance_mismatches(db) == []


def test_the_owner_rejects_a_held_payment_and_nothing_is_ever_credited(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    _apply(db, PAID, deposit_id, "5")
    reject_deposit(db, deposit_id=deposit_id, actor=OWNER, reason="refunded at the gateway")
    assert deposit_of(db, deposit_id).state == "rejected"
    assert _apply(db, PAID, deposit_id, "20") == "unchanged"
    assert balance(db, alice.id) == 0
    assert alerts(db) == []
    assert find_balance_mismatches(db) == []


def test_a_gateway_deposit_still_pending_cannot_be_approved_or_rejected_by_hand(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    with pytest.raises(DepositStateError, match="only a held deposit or an open manual"):
        approve_deposit(db, deposit_id=deposit_id, actor=OWNER)
    with pytest.raises(DepositStateError):
        reject_deposit(db, deposit_id=deposit_id, actor=OWNER, reason="no")
    assert balance(db, alice.id) == 0


def test_failed_after_paid_changes_nothing(db: Database, fake_gateway: type[FakeGateway]) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    assert _apply(db, PAID, deposit_id, "20") == "credited"
    assert _apply(db, FAILED, deposit_id, None, event_id="evt_2") == "unchanged"
    assert _apply(db, EXPIRED, deposit_id, None, event_id="evt_3") == "unchanged"
    assert deposit_of(db, deposit_id).state == "paid"
    assert balance(db, alice.id) == 2_000_000
    assert events(db, deposit_id)[-1] == ("webhook", "paid", "paid")
    assert find_balance_mismatches(db) == []


@pytest.mark.parametrize("closed_by", [EXPIRED, FAILED])
def test_a_payment_arriving_after_the_deposit_closed_is_credited(
    db: Database, fake_gateway: type[FakeGateway], closed_by: EventKind
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    assert _apply(db, closed_by, deposit_id, None) == "moved"
    assert deposit_of(db, deposit_id).state == closed_by.value
    assert _apply(db, PAID, deposit_id, "20.00", event_id="evt_2") == "credited"
    assert deposit_of(db, deposit_id).state == "paid"
    assert balance(db, alice.id) == 2_000_000
    assert find_balance_mismatches(db) == []


def test_an_event_found_by_the_gateways_payment_id(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    outcome = apply_gateway_event(
        db,
        gateway="fake",
        event=event(PAID, None, "20", external_id=f"fk_{deposit_id}"),
        actor=GATEWAY,
    )
    assert (outcome.deposit_id, outcome.result) == (deposit_id, "credited")
    assert balance(db, alice.id) == 2_000_000


def test_an_event_for_no_deposit_of_this_gateway_changes_nothing(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    for stray in (
        event(PAID, deposit_id + 100, "20"),
        event(PAID, None, "20", external_id="fk_nosuch"),
        event(PAID, None, "20"),
    ):
        outcome = apply_gateway_event(db, gateway="fake", event=stray, actor=GATEWAY)
        assert (outcome.deposit_id, outcome.result) == (None, "unknown")
    # The deposit of another gateway is not this one's to credit.
    outcome = apply_gateway_event(
        db, gateway="other", event=event(PAID, deposit_id, "20"), actor=GATEWAY
    )
    assert outcome.result == "unknown"
    assert balance(db, alice.id) == 0


def test_an_event_naming_another_payment_of_the_deposit_is_recorded_and_alerted(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    outcome = apply_gateway_event(
        db,
        gateway="fake",
        event=event(PAID, deposit_id, "20", external_id="fk_other"),
        actor=GATEWAY,
    )
    assert outcome.result == "unchanged"
    assert balance(db, alice.id) == 0
    assert alerts(db) == [("deposit_held", f"deposit:{deposit_id}")]


def test_the_payload_kept_is_bounded(db: Database, fake_gateway: type[FakeGateway]) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    big = replace(event(PAID, deposit_id, "20"), payload="x" * 200_000)
    apply_gateway_event(db, gateway="fake", event=big, actor=GATEWAY)
    with db.read() as session:
        kept = session.scalars(
            select(DepositEvent.payload).where(DepositEvent.kind == "webhook")
        ).one()
    assert len(kept) == 64 * 1024
    assert balance(db, alice.id) == 2_000_000


def test_a_held_deposit_the_gateway_then_says_was_paid_in_full_is_credited_once(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id = start(db, alice.id, "20")
    assert _apply(db, PAID, deposit_id, "12") == "held"
    assert _apply(db, PAID, deposit_id, "20", event_id="evt_2") == "credited"
    assert _apply(db, PAID, deposit_id, "20", event_id="evt_2") == "unchanged"
    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.paid_amount) == ("paid", 2_000_000)
    assert balance(db, alice.id) == 2_000_000
    assert alerts(db) == []
    assert find_balance_mismatches(db) == []


def test_a_payment_that_would_take_the_balance_past_its_limit_is_held(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    with db.write() as session:  # a balance just under the largest one kept
        post_entry(
            session,
            account_id=alice.id,
            kind=TOPUP,
            amount=MAX_BALANCE_UNITS - 5_000_000,
            actor="test",
        )
    deposit_id = start(db, alice.id, "60")
    body, headers = webhook(EventKind.PAID, deposit_id, "60", "USD")
    [outcome] = receive_webhook(db, gateway="fake", body=body, headers=headers)
    assert (outcome.result, outcome.credited) == ("held", 0)
    with pytest.raises(DepositStateError):
        approve_deposit(db, deposit_id=deposit_id, actor=Actor.system())
    assert balance(db, alice.id) == MAX_BALANCE_UNITS - 5_000_000
    assert alerts(db) == [("deposit_held", f"deposit:{deposit_id}")]
    assert find_balance_mismatches(db) == []
