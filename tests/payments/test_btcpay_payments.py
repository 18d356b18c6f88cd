"""BTCPay deposits through the panel: the gateway set up and enabled, deposits
started by the service, and the fake BTCPay Server posting signed webhooks over
HTTP to the panel's /payments/webhook/btcpay, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from smmpanel.accounts.models import Account
from smmpanel.audit.models import Actor
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.ledger.funding import fund_account
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.panel.models import Alert
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.service import check_deposit, check_pending_deposits, start_deposit
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.paysim.btcpay_fake import FakeBTCPay, running_fake_btcpay
from smmpanel.server import serve_in_thread, site_app
from smmpanel.timeutil import utcnow
from tests.factories import make_customer
from tests.web.conftest import Browser, web_settings

ALICE = Actor("web", "alice")
OWNER = Actor("cli", "root")
UNIT = 100_000  # minor units per major unit (5 places)


@pytest.fixture(scope="module")
def btcpay() -> Iterator[FakeBTCPay]:
    with running_fake_btcpay() as fake:
        yield fake


@pytest.fixture
def panel_url(db: Database, btcpay: FakeBTCPay) -> Iterator[str]:
    """The panel served over the test's database, BTCPay set up (USD, 1 to
    10000, +5 % from 100) and enabled, pointing at the fake."""
    values = {**btcpay.config(), "currency": "USD", "bonus": "100:5"}
    configure_gateway(db, code="btcpay", values=values, actor=OWNER)
    enable_gateway(db, code="btcpay", actor=OWNER)
    with serve_in_thread(site_app(db, web_settings())) as url:
        yield url


@pytest.fixture
def hook(panel_url: str) -> str:
    return f"{panel_url}/payments/webhook/btcpay"


def start(db: Database, panel_url: str, account_id: int, amount: str) -> tuple[int, str]:
    """A BTCPay deposit started by the customer: (deposit id, invoice id)."""
    started = start_deposit(
        db, account_id=account_id, gateway="btcpay", amount=amount, panel_url=panel_url, actor=ALICE
    )
    deposit = read_deposit(db, started.deposit_id)
    assert deposit.external_id is not None
    return started.deposit_id, deposit.external_id


def read_deposit(db: Database, deposit_id: int) -> Deposit:
    with db.read() as session:
        deposit = session.get(Deposit, deposit_id)
        assert deposit is not None
        return deposit


def balance(db: Database, account_id: int) -> Decimal:
    with db.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return Decimal(account.balance) / UNIT


def entries(db: Database, account_id: int) -> list[tuple[str, str | None, int]]:
    """The account's ledger entries after the test's own funding: (kind, cause, amount)."""
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.kind, LedgerEntry.cause, LedgerEntry.amount)
            .where(LedgerEntry.account_id == account_id, LedgerEntry.note != "test top-up")
            .order_by(LedgerEntry.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def history(db: Database, deposit_id: int) -> list[tuple[str, str | None, str]]:
    with db.read() as session:
        rows = session.execute(
            select(DepositEvent.kind, DepositEvent.from_state, DepositEvent.to_state)
            .where(DepositEvent.deposit_id == deposit_id)
            .order_by(DepositEvent.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def alerts(db: Database, deposit_id: int) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(
                select(Alert.kind)
                .where(Alert.subject == f"deposit:{deposit_id}", Alert.resolved_at.is_(None))
                .order_by(Alert.id)
            )
        )


def codes(sent: list[Any]) -> list[int | None]:
    return [delivery.status_code for delivery in sent]


# --- a payment ---------------------------------------------------------------------------


def test_a_btcpay_payment_credits_exactly_once(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "25.50")
    invoice = btcpay.invoice(invoice_id)
    assert read_deposit(db, deposit_id).redirect_url == f"{btcpay.url}/i/{invoice_id}"
    assert invoice.metadata["orderId"] == str(deposit_id)
    assert invoice.checkout["redirectURL"] == f"{panel_url}/funds/deposits/{deposit_id}"
    assert (invoice.amount, invoice.currency) == (Decimal("25.50"), "USD")

    btcpay.process(invoice_id)
    assert codes(btcpay.deliver(hook, "InvoiceProcessing", invoice_id)) == [200]
    assert read_deposit(db, deposit_id).state == "pending"
    assert balance(db, alice.id) == 0

    btcpay.settle(invoice_id)
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
    assert balance(db, alice.id) == Decimal("25.50")
    # BTCPay Server's redelivery, and the events it sent before, arriving late.
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id, redelivery=True)) == [200]
    assert codes(btcpay.deliver(hook, "InvoiceProcessing", invoice_id)) == [200]
    assert codes(btcpay.deliver(hook, "InvoiceReceivedPayment", invoice_id)) == [200]

    deposit = read_deposit(db, deposit_id)
    assert (deposit.state, deposit.paid_amount, deposit.paid_currency) == (
        "paid",
        2_550_000,
        "USD",
    )
    assert balance(db, alice.id) == Decimal("25.50")
    assert entries(db, alice.id) == [("topup", f"deposit:{deposit_id}", 2_550_000)]
    moves = [after for _, before, after in history(db, deposit_id) if before != after]
    assert moves == ["created", "pending", "paid"]  # the rest recorded, changing nothing
    assert find_balance_mismatches(db) == []


def test_a_bonus_is_its_own_entry(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "200")
    btcpay.settle(invoice_id)
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
    assert entries(db, alice.id) == [
        ("topup", f"deposit:{deposit_id}", 200 * UNIT),
        ("topup", f"bonus:deposit:{deposit_id}", 10 * UNIT),
    ]
    assert balance(db, alice.id) == Decimal("210")
    assert find_balance_mismatches(db) == []


@pytest.mark.parametrize("redelivery", [False, True], ids=["same-bytes", "redeliveries"])
def test_ten_concurrent_copies_credit_once(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str, redelivery: bool
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "40")
    btcpay.settle(invoice_id)
    sent = btcpay.deliver(hook, "InvoiceSettled", invoice_id, times=10, redelivery=redelivery)
    assert codes(sent) == [200] * 10
    assert read_deposit(db, deposit_id).state == "paid"
    assert balance(db, alice.id) == Decimal("40")
    assert entries(db, alice.id) == [("topup", f"deposit:{deposit_id}", 40 * UNIT)]
    # One change to paid; the other nine recorded as changing nothing.
    moves = [row for row in history(db, deposit_id) if row[0] == "webhook"]
    assert len(moves) == 10
    assert sum(1 for _, before, after in moves if before != after) == 1
    assert find_balance_mismatches(db) == []


@pytest.mark.parametrize(
    "spoil",
    [{"secret": "not-the-webhook-secret"}, {"signed": False}, {"body": b"not json"}],
    ids=["wrong-secret", "unsigned", "signed-garbage"],
)
def test_a_wrong_signature_is_refused_with_400_and_changes_nothing(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str, spoil: dict[str, Any]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "30")
    btcpay.settle(invoice_id)
    before = history(db, deposit_id)
    fetched = len(btcpay.requests)
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id, times=3, **spoil)) == [400] * 3
    assert read_deposit(db, deposit_id).state == "pending"
    assert history(db, deposit_id) == before
    assert balance(db, alice.id) == 0 and entries(db, alice.id) == []
    assert len(btcpay.requests) == fetched  # the panel did not even ask the server
    assert find_balance_mismatches(db) == []


def test_an_underpayment_is_held_not_credited(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "10")
    btcpay.expire(invoice_id, paid=Decimal("7.50"))
    assert codes(btcpay.deliver(hook, "InvoiceExpired", invoice_id)) == [200]
    assert read_deposit(db, deposit_id).state == "expired"
    # The owner marks the partly paid invoice settled in BTCPay Server.
    btcpay.settle(invoice_id, paid=Decimal("7.50"))
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id, times=3)) == [200] * 3
    deposit = read_deposit(db, deposit_id)
    assert (deposit.state, deposit.paid_amount, deposit.paid_currency) == ("held", 750_000, "USD")
    assert balance(db, alice.id) == 0 and entries(db, alice.id) == []
    assert alerts(db, deposit_id) == ["deposit_held"]
    assert find_balance_mismatches(db) == []


def test_a_reversal_after_credit_debits_what_is_left_and_alerts(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "100")
    # Paid after the invoice expired; the owner marks it settled by hand.
    btcpay.expire(invoice_id)
    assert codes(btcpay.deliver(hook, "InvoiceExpired", invoice_id)) == [200]
    btcpay.settle(invoice_id, marked=True)
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
    assert balance(db, alice.id) == Decimal("105")  # +5 % bonus
    fund_account(db, username="alice", amount="-60", note="spent")
    # Refunded, the owner marks the invoice invalid: sent twice, taken back once.
    btcpay.invalidate(invoice_id)
    assert codes(btcpay.deliver(hook, "InvoiceInvalid", invoice_id, times=2)) == [200] * 2
    deposit = read_deposit(db, deposit_id)
    assert (deposit.state, deposit.owed_amount) == ("reversed", 60 * UNIT)
    assert balance(db, alice.id) == 0
    assert entries(db, alice.id)[-1] == ("adjustment", f"reversal:deposit:{deposit_id}", -45 * UNIT)
    assert set(alerts(db, deposit_id)) >= {"deposit_reversed", "deposit_owed"}
    # A settled webhook arriving after that changes nothing.
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
    assert read_deposit(db, deposit_id).state == "reversed"
    assert balance(db, alice.id) == 0
    assert find_balance_mismatches(db) == []


def test_a_late_payment_credits_an_expired_deposit(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "15")
    btcpay.expire(invoice_id)
    assert codes(btcpay.deliver(hook, "InvoiceExpired", invoice_id)) == [200]
    assert read_deposit(db, deposit_id).state == "expired"
    btcpay.settle(invoice_id, marked=True)
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
    assert read_deposit(db, deposit_id).state == "paid"
    assert balance(db, alice.id) == Decimal("15")
    assert find_balance_mismatches(db) == []


def test_an_unreachable_server_answers_503_and_the_retry_credits(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "20")
    btcpay.settle(invoice_id)
    btcpay.outage = True
    try:
        assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [503]
    finally:
        btcpay.outage = False
    assert read_deposit(db, deposit_id).state == "pending"
    assert balance(db, alice.id) == 0
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id, redelivery=True)) == [200]
    assert balance(db, alice.id) == Decimal("20")
    assert find_balance_mismatches(db) == []


def test_reconciliation_credits_a_payment_whose_webhook_was_lost(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    deposit_id, invoice_id = start(db, panel_url, alice.id, "12.34")
    assert check_deposit(db, deposit_id=deposit_id, actor=OWNER).result == "unchanged"
    btcpay.settle(invoice_id)
    outcome = check_deposit(db, deposit_id=deposit_id, actor=OWNER)
    assert (outcome.state, outcome.result) == ("paid", "credited")
    # The webhook, delivered after all, credits nothing more.
    assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
    assert balance(db, alice.id) == Decimal("12.34")
    assert entries(db, alice.id) == [("topup", f"deposit:{deposit_id}", 1_234_000)]
    assert find_balance_mismatches(db) == []


def test_the_reconciliation_job_asks_btcpay_about_deposits_left_pending(
    db: Database, btcpay: FakeBTCPay, panel_url: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    (settled, settled_invoice), (expired, expired_invoice), (fresh, fresh_invoice) = (
        start(db, panel_url, alice.id, amount) for amount in ("11", "22", "33")
    )
    btcpay.settle(settled_invoice)
    btcpay.expire(expired_invoice)
    btcpay.settle(fresh_invoice)
    then = utcnow() - timedelta(minutes=20)
    with db.write() as session:
        session.execute(
            update(Deposit)
            .where(Deposit.id.in_([settled, expired]))
            .values(created_at=then, updated_at=then)
        )
    settings = Settings(deposit_check_after_minutes=15, public_url=panel_url)
    assert check_pending_deposits(db, settings) == 2
    states = [read_deposit(db, deposit_id).state for deposit_id in (settled, expired, fresh)]
    assert states == ["paid", "expired", "pending"]  # the fresh one waits for its webhook
    assert balance(db, alice.id) == Decimal("11")
    assert find_balance_mismatches(db) == []


def test_a_customer_pays_through_btcpay_from_the_add_funds_page(
    db: Database, btcpay: FakeBTCPay, panel_url: str, hook: str
) -> None:
    browser = Browser(panel_url)
    try:
        assert browser.sign_up("carol").status_code == 303
        offer = browser.get("/funds/add").text
        assert 'data-gateway="btcpay"' in offer and "Bitcoin (BTCPay Server)" in offer
        answer = browser.submit("/funds/add", {"amount": "50", "gateway": "btcpay"})
        assert answer.status_code == 303
        page_path = answer.headers["location"]
        deposit_id = int(page_path.rsplit("/", 1)[1])
        invoice_id = btcpay.last_invoice_id()
        # The deposit's page sends the customer on to BTCPay's checkout; the
        # invoice brings them back to that page, which only shows the state.
        page = browser.get(page_path).text
        assert f'href="{btcpay.url}/i/{invoice_id}"' in page
        assert 'data-state="pending"' in page
        assert btcpay.invoice(invoice_id).checkout["redirectURL"] == f"{panel_url}{page_path}"
        btcpay.settle(invoice_id)
        assert 'data-state="pending"' in browser.get(page_path).text  # no webhook yet
        assert codes(btcpay.deliver(hook, "InvoiceSettled", invoice_id)) == [200]
        assert 'data-state="paid"' in browser.get(page_path).text
    finally:
        browser.close()
    assert read_deposit(db, deposit_id).state == "paid"
    with db.read() as session:
        carol = session.scalars(select(Account).where(Account.username == "carol")).one()
        assert carol.balance == 50 * UNIT
    assert find_balance_mismatches(db) == []
