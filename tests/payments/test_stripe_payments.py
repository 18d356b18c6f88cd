"""Stripe deposits through the whole panel: a customer starts a deposit, the
fake Stripe holds the Checkout Session, and its signed webhooks reach the
panel's `/payments/webhook/stripe` over HTTP, as Stripe's would."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from smmpanel.accounts.passwords import set_password
from smmpanel.accounts.queries import account_balance
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.models import ADJUSTMENT, LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.ledger.service import post_entry
from smmpanel.panel.models import Alert
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.service import check_deposit, start_deposit
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.paysim.stripe_fake import RunningFakeStripe, running_fake_stripe
from smmpanel.server import serve_in_thread, site_app
from tests.factories import make_customer
from tests.web.conftest import PASSWORD, Browser, web_settings

PANEL = "https://panel.example"
ALICE = Actor("web", "alice")
UNIT = 100_000  # minor units of one dollar (5 places)


@pytest.fixture(scope="module")
def fake() -> Iterator[RunningFakeStripe]:
    with running_fake_stripe() as running:
        yield running


@pytest.fixture
def stripe_on(db: Database, fake: RunningFakeStripe) -> RunningFakeStripe:
    """The stripe gateway pointed at the fake, +4% from 20 USD, enabled."""
    values = {
        "secret_key": fake.api_key,
        "webhook_secret": fake.webhook_secret,
        "api_base": fake.base_url,
        "bonus": "20:4",
    }
    configure_gateway(db, code="stripe", values=values, actor=Actor.system())
    enable_gateway(db, code="stripe", actor=Actor.system())
    return fake


@pytest.fixture
def hook(db: Database) -> Iterator[str]:
    """The URL to register in Stripe's dashboard, on a panel serving the test's database."""
    with serve_in_thread(site_app(db, web_settings())) as url:
        yield f"{url}/payments/webhook/stripe"


def start(db: Database, account_id: int, amount: str = "25.00") -> tuple[int, str]:
    """A deposit started by the customer: (deposit id, Checkout Session id)."""
    started = start_deposit(
        db, account_id=account_id, gateway="stripe", amount=amount, panel_url=PANEL, actor=ALICE
    )
    with db.read() as session:
        deposit = session.get(Deposit, started.deposit_id)
        assert deposit is not None and deposit.external_id is not None
        return started.deposit_id, deposit.external_id


def deposit_of(db: Database, deposit_id: int) -> Deposit:
    with db.read() as session:
        deposit = session.get(Deposit, deposit_id)
        assert deposit is not None
        return deposit


def balance(db: Database, account_id: int) -> int:
    return account_balance(db, account_id)[0]


def entries(db: Database, deposit_id: int) -> dict[str, int]:
    """The deposit's ledger entries, by cause."""
    causes = [
        f"deposit:{deposit_id}",
        f"bonus:deposit:{deposit_id}",
        f"reversal:deposit:{deposit_id}",
    ]
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.cause, LedgerEntry.amount).where(LedgerEntry.cause.in_(causes))
        ).all()
    return {str(cause): amount for cause, amount in rows}


def events_of(db: Database, deposit_id: int, kind: str = "webhook") -> int:
    with db.read() as session:
        return session.execute(
            select(func.count())
            .select_from(DepositEvent)
            .where(DepositEvent.deposit_id == deposit_id, DepositEvent.kind == kind)
        ).scalar_one()


def alerts(db: Database, deposit_id: int) -> set[str]:
    with db.read() as session:
        rows = session.scalars(
            select(Alert.kind).where(
                Alert.subject == f"deposit:{deposit_id}", Alert.resolved_at.is_(None)
            )
        )
        return set(rows)


def ok(responses: list[httpx.Response]) -> bool:
    return all(r.status_code == 200 and r.json() == {"ok": True} for r in responses)


def paid(db: Database, fake: RunningFakeStripe, hook: str, account_id: int) -> tuple[int, str]:
    """A deposit of 25 USD paid and credited through its webhook."""
    deposit_id, session_id = start(db, account_id)
    assert ok(fake.control.send(fake.control.complete(session_id), hook))
    assert deposit_of(db, deposit_id).state == "paid"
    return deposit_id, session_id


# --- a payment ------------------------------------------------------------------------------


def test_a_stripe_payment_credits_the_balance_and_its_bonus_exactly_once(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)
    session = fake.control.session(session_id)
    assert (session["amount_total"], session["currency"]) == (2500, "usd")
    assert session["client_reference_id"] == str(deposit_id)
    assert session["success_url"] == f"{PANEL}/funds/deposits/{deposit_id}"
    assert deposit_of(db, deposit_id).state == "pending"
    assert balance(db, alice.id) == 0

    event = fake.control.complete(session_id)
    assert ok(fake.control.send(event, hook))

    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.paid_amount, deposit.paid_currency) == (
        "paid",
        25 * UNIT,
        "USD",
    )
    assert entries(db, deposit_id) == {
        f"deposit:{deposit_id}": 25 * UNIT,
        f"bonus:deposit:{deposit_id}": 1 * UNIT,  # +4% from 20
    }
    assert balance(db, alice.id) == 26 * UNIT
    # Stripe sends it again (it had no answer in time): nothing more.
    assert ok(fake.control.send(event, hook))
    assert balance(db, alice.id) == 26 * UNIT
    assert events_of(db, deposit_id) == 2
    assert find_balance_mismatches(db) == []


def test_the_same_webhook_ten_times_at_once_credits_once(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id, "10.00")
    event = fake.control.complete(session_id)

    answers = fake.control.send(event, hook, times=10)

    assert ok(answers), [(r.status_code, r.text[:200]) for r in answers]
    assert entries(db, deposit_id) == {f"deposit:{deposit_id}": 10 * UNIT}
    assert balance(db, alice.id) == 10 * UNIT
    assert events_of(db, deposit_id) == 10  # each copy is on record
    assert find_balance_mismatches(db) == []


@pytest.mark.parametrize("signature", ["wrong", "missing", "stale"])
def test_a_webhook_with_a_wrong_signature_is_refused_with_400_and_changes_nothing(
    db: Database, stripe_on: RunningFakeStripe, hook: str, signature: Any
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)

    [answer] = fake.control.send(fake.control.complete(session_id), hook, signature=signature)

    assert answer.status_code == 400
    assert deposit_of(db, deposit_id).state == "pending"
    assert events_of(db, deposit_id) == 0
    assert entries(db, deposit_id) == {}
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []


def test_an_underpayment_is_held_for_the_owner_not_credited(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)

    assert ok(fake.control.send(fake.control.complete(session_id, amount_total=2000), hook))

    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.paid_amount) == ("held", 20 * UNIT)
    assert entries(db, deposit_id) == {}
    assert balance(db, alice.id) == 0
    assert "deposit_held" in alerts(db, deposit_id)
    assert find_balance_mismatches(db) == []


def test_a_payment_in_another_currency_is_held(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)

    event = fake.control.complete(session_id, currency="eur")
    assert ok(fake.control.send(event, hook))

    assert deposit_of(db, deposit_id).state == "held"
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []


# --- reversals ------------------------------------------------------------------------------


def test_a_refund_after_the_credit_debits_it_and_alerts_the_owner(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="3")
    deposit_id, session_id = paid(db, fake, hook, alice.id)
    assert balance(db, alice.id) == 29 * UNIT

    refund = fake.control.refund(session_id)
    assert ok(fake.control.send(refund, hook, times=3))

    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.owed_amount) == ("reversed", 0)
    assert entries(db, deposit_id)[f"reversal:deposit:{deposit_id}"] == -26 * UNIT
    assert balance(db, alice.id) == 3 * UNIT
    assert "deposit_reversed" in alerts(db, deposit_id)
    assert find_balance_mismatches(db) == []


def test_a_chargeback_of_a_spent_deposit_takes_what_is_left_and_records_the_rest_owed(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = paid(db, fake, hook, alice.id)
    with db.write() as session:  # she spent 20 of the 26
        post_entry(session, account_id=alice.id, kind=ADJUSTMENT, amount=-20 * UNIT, actor="test")

    assert ok(fake.control.send(fake.control.dispute(session_id), hook))

    deposit = deposit_of(db, deposit_id)
    assert (deposit.state, deposit.owed_amount) == ("reversed", 20 * UNIT)
    assert entries(db, deposit_id)[f"reversal:deposit:{deposit_id}"] == -6 * UNIT
    assert balance(db, alice.id) == 0
    assert {"deposit_reversed", "deposit_owed"} <= alerts(db, deposit_id)
    assert find_balance_mismatches(db) == []


# --- order, lateness and reconciliation -------------------------------------------------------


def test_events_out_of_order_credit_once_and_never_undo_a_payment(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id, "10.00")
    processing = fake.control.complete(session_id, paid=False)  # a bank debit, pending
    succeeded = fake.control.succeed_async(session_id)
    stale_failure = fake.control.forge(
        "checkout.session.async_payment_failed", fake.control.session(session_id)
    )

    answers = fake.control.send_in_order([succeeded, processing, stale_failure], hook)

    assert ok(answers)
    assert deposit_of(db, deposit_id).state == "paid"
    assert entries(db, deposit_id) == {f"deposit:{deposit_id}": 10 * UNIT}
    assert events_of(db, deposit_id) == 3
    assert find_balance_mismatches(db) == []


def test_an_event_saying_paid_that_stripe_does_not_confirm_credits_nothing(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)
    claimed = fake.control.session(session_id) | {"status": "complete", "payment_status": "paid"}

    assert ok(fake.control.send(fake.control.forge("checkout.session.completed", claimed), hook))

    assert deposit_of(db, deposit_id).state == "pending"
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []


def test_a_paid_webhook_while_stripe_cannot_be_asked_is_503_and_retried(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)
    event = fake.control.complete(session_id)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    configure_gateway(db, code="stripe", values={"api_base": closed}, actor=Actor.system())

    [answer] = fake.control.send(event, hook)
    assert answer.status_code == 503
    assert (deposit_of(db, deposit_id).state, balance(db, alice.id)) == ("pending", 0)

    configure_gateway(db, code="stripe", values={"api_base": fake.base_url}, actor=Actor.system())
    assert ok(fake.control.send(event, hook))  # Stripe's retry
    assert balance(db, alice.id) == 26 * UNIT
    assert find_balance_mismatches(db) == []


def test_reconciliation_credits_a_payment_whose_webhook_never_came(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)
    owner = Actor("cli", "owner")

    assert check_deposit(db, deposit_id=deposit_id, actor=owner).result == "unchanged"
    event = fake.control.complete(session_id)  # paid, but the webhook is lost
    assert check_deposit(db, deposit_id=deposit_id, actor=owner).result == "credited"
    assert ok(fake.control.send(event, hook))  # it comes after all: nothing more

    assert deposit_of(db, deposit_id).state == "paid"
    assert balance(db, alice.id) == 26 * UNIT
    assert find_balance_mismatches(db) == []


def test_an_expired_session_expires_the_deposit(
    db: Database, stripe_on: RunningFakeStripe, hook: str
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    deposit_id, session_id = start(db, alice.id)

    assert ok(fake.control.send(fake.control.expire(session_id), hook))

    assert deposit_of(db, deposit_id).state == "expired"
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []


# --- the customer's pages -------------------------------------------------------------------


def test_a_customer_adds_funds_with_stripe_and_coming_back_credits_nothing(
    db: Database, stripe_on: RunningFakeStripe
) -> None:
    fake = stripe_on
    alice = make_customer(db, "alice", balance="0")
    set_password(db, username="alice", password=PASSWORD)
    with serve_in_thread(site_app(db, web_settings())) as url:
        browser = Browser(url)
        try:
            assert browser.log_in("alice").status_code == 303
            answer = browser.submit("/funds/add", {"gateway": "stripe", "amount": "25"})
            assert answer.status_code == 303, answer.text[:500]
            deposit_page = answer.headers["location"]
            # The fake outlives the test's database: the newest session for this page.
            session = [
                s for s in fake.control.sessions() if s["success_url"] == f"{url}{deposit_page}"
            ][-1]
            assert session["client_reference_id"] == deposit_page.rsplit("/", 1)[1]
            assert session["url"] in browser.get(deposit_page).text  # "Continue to payment"

            event = fake.control.complete(session["id"])  # paid at Stripe; the webhook is late
            back = browser.get(deposit_page)  # Stripe sends the customer back
            assert 'data-state="pending"' in back.text
            assert balance(db, alice.id) == 0

            assert ok(fake.control.send(event, f"{url}/payments/webhook/stripe"))
            assert 'data-state="paid"' in browser.get(deposit_page).text
            assert balance(db, alice.id) == 26 * UNIT
        finally:
            browser.close()
    assert find_balance_mismatches(db) == []
