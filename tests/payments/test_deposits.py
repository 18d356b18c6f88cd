"""Starting deposits: limits, amounts, conversion into the account's currency,
bonus rules fixed at creation, and what a gateway that fails leaves behind."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.service import start_deposit
from tests.factories import make_customer
from tests.payments.fakes import FakeGateway

PANEL = "https://panel.example"
ALICE = Actor("web", "alice")


def _start(db: Database, account_id: int, amount: str, gateway: str = "fake") -> int:
    started = start_deposit(
        db, account_id=account_id, gateway=gateway, amount=amount, panel_url=PANEL, actor=ALICE
    )
    return started.deposit_id


def _deposit(db: Database, deposit_id: int) -> Deposit:
    with db.read() as session:
        deposit = session.get(Deposit, deposit_id)
        assert deposit is not None
        return deposit


def test_a_deposit_is_created_then_pending_with_the_gateways_payment(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    started = start_deposit(
        db, account_id=alice.id, gateway="fake", amount="25.50", panel_url=PANEL + "/", actor=ALICE
    )
    assert started.state == "pending"
    assert started.reference == f"D-{started.deposit_id:06d}"
    assert started.redirect_url == f"https://pay.example/c/fk_{started.deposit_id}"
    deposit = _deposit(db, started.deposit_id)
    assert (deposit.amount, deposit.currency) == (2_550_000, "USD")
    assert (deposit.credit_amount, deposit.bonus_amount, deposit.account_currency) == (
        2_550_000,
        0,
        "USD",
    )
    assert deposit.external_id == f"fk_{started.deposit_id}"
    ref, config = FakeGateway.created[0]
    assert ref.amount == Decimal("25.50")
    assert ref.return_url == f"{PANEL}/funds/deposits/{started.deposit_id}"
    assert ref.webhook_url == f"{PANEL}/payments/webhook/fake"
    assert ref.description == "Balance top-up for alice on smmpanel"
    # The secret reaches the gateway in plain text, with the field's default.
    assert config == {"secret": "whsec_fake_gateway_secret", "shop": "test-shop"}
    with db.read() as session:
        events = session.execute(
            select(
                DepositEvent.kind,
                DepositEvent.from_state,
                DepositEvent.to_state,
                DepositEvent.actor,
            )
            .where(DepositEvent.deposit_id == started.deposit_id)
            .order_by(DepositEvent.id)
        ).all()
    assert events == [
        ("create", None, "created", "web:alice"),
        ("start", "created", "pending", "web:alice"),
    ]
    assert find_balance_mismatches(db) == []
