"""Starting deposits: limits, amounts, conversion into the account's currency,
bonus rules fixed at creation, and what a gateway that fails leaves behind."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from smmpanel.accounts.service import set_currency_rate
from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.payments.errors import (
    DepositRefused,
    GatewayDisabled,
    InvalidDepositAmount,
    UnknownGateway,
)
from smmpanel.payments.gateway import GatewayUnavailable, PaymentStart
from smmpanel.payments.models import Deposit, DepositEvent
from smmpanel.payments.service import start_deposit
from smmpanel.payments.setup import configure_gateway, disable_gateway
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


def _configure(db: Database, **values: str) -> None:
    configure_gateway(db, code="fake", values=values, actor=Actor.system())


@pytest.mark.parametrize(
    ("amount", "error", "words"),
    [
        ("0.99", DepositRefused, "from 1 to 10000 USD"),
        ("10000.01", DepositRefused, "from 1 to 10000 USD"),
        ("10.001", InvalidDepositAmount, "2 decimal places"),
        ("0", InvalidDepositAmount, "more than zero"),
        ("-5", InvalidDepositAmount, "the amount"),
        ("ten", InvalidDepositAmount, "not a decimal number"),
        ("NaN", InvalidDepositAmount, "not a finite number"),
    ],
)
def test_an_amount_outside_the_limits_or_malformed_is_refused_and_makes_nothing(
    db: Database, fake_gateway: type[FakeGateway], amount: str, error: type[Exception], words: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    with pytest.raises(error, match=words):
        _start(db, alice.id, amount)
    with db.read() as session:
        assert session.scalars(select(Deposit)).all() == []
    assert FakeGateway.created == []


def test_the_limits_are_the_gateways_own_and_inclusive(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    _configure(db, min="5", max="50.50")
    alice = make_customer(db, "alice", balance="0")
    assert _deposit(db, _start(db, alice.id, "5")).amount == 500_000
    assert _deposit(db, _start(db, alice.id, "50.50")).amount == 5_050_000
    with pytest.raises(DepositRefused, match=r"from 5 to 50\.5 USD"):
        _start(db, alice.id, "4.99")
    with pytest.raises(DepositRefused):
        _start(db, alice.id, "50.51")


def test_a_bonus_rule_applies_from_its_threshold_the_highest_one_reached(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    # Rules: +5% from 100, +10% from 500.
    bonuses = {
        amount: _deposit(db, _start(db, alice.id, amount)).bonus_amount
        for amount in ("99.99", "100", "499.99", "500", "1234.57")
    }
    assert bonuses == {
        "99.99": 0,
        "100": 500_000,  # 5.00000
        "499.99": 2_499_950,  # 24.99950
        "500": 5_000_000,
        "1234.57": 12_345_700,
    }


def test_an_eur_account_paying_a_usd_gateway_is_credited_at_the_rate_exactly(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    set_currency_rate(db, code="EUR", rate="0.923456")
    alice = make_customer(db, "alice", balance="0", currency="EUR")
    deposit = _deposit(db, _start(db, alice.id, "100"))
    assert (deposit.amount, deposit.currency) == (10_000_000, "USD")
    # 100 x 0.923456 / 1 = 92.3456 EUR exactly; +5% = 4.61728.
    assert (deposit.credit_amount, deposit.account_currency) == (9_234_560, "EUR")
    assert deposit.bonus_amount == 461_728


def test_a_gateway_in_another_currency_converts_through_the_base_rounding_half_up(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    set_currency_rate(db, code="EUR", rate="0.9")
    set_currency_rate(db, code="GBP", rate="0.7")
    _configure(db, currency="gbp", bonus="")
    alice = make_customer(db, "alice", balance="0", currency="EUR")
    deposit = _deposit(db, _start(db, alice.id, "10"))
    # 10 GBP x 0.9 / 0.7 = 12.857142857... EUR -> 12.85714.
    assert (deposit.amount, deposit.currency, deposit.credit_amount) == (
        1_000_000,
        "GBP",
        1_285_714,
    )
    bob = make_customer(db, "bob", balance="0")
    # 10 GBP in USD: 10 / 0.7 = 14.2857142857 -> 14.28571.
    assert _deposit(db, _start(db, bob.id, "10")).credit_amount == 1_428_571


def test_a_currency_without_a_rate_is_refused(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    _configure(db, currency="CHF")
    alice = make_customer(db, "alice", balance="0")
    with pytest.raises(DepositRefused, match="no exchange rate for CHF"):
        _start(db, alice.id, "10")


def test_unknown_and_disabled_gateways_are_refused(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    with pytest.raises(UnknownGateway):
        _start(db, alice.id, "10", gateway="nosuch")
    disable_gateway(db, code="fake", actor=Actor.system())
    with pytest.raises(GatewayDisabled):
        _start(db, alice.id, "10")
    with db.read() as session:
        assert session.scalars(select(Deposit)).all() == []


def test_an_unreachable_gateway_leaves_the_deposit_failed(
    db: Database, fake_gateway: type[FakeGateway]
) -> None:
    alice = make_customer(db, "alice", balance="0")
    FakeGateway.down = True
    with pytest.raises(GatewayUnavailable, match="down"):
        _start(db, alice.id, "10")
    with db.read() as session:
        deposit = session.scalars(select(Deposit)).one()
        notes = session.scalars(
            select(DepositEvent.note).where(DepositEvent.deposit_id == deposit.id)
        ).all()
    assert deposit.state == "failed"
    assert deposit.external_id is None
    assert notes[-1] == "fake gateway is down"
    assert find_balance_mismatches(db) == []


def test_the_database_knows_every_state_of_the_state_machine() -> None:
    from smmpanel.payments.models import STATES
    from smmpanel.payments.states import ALLOWED_MOVES, DepositState

    assert set(STATES) == {state.value for state in DepositState} == set(ALLOWED_MOVES)


@pytest.mark.parametrize(
    ("start", "words"),
    [
        (PaymentStart("x1", redirect_url="javascript:alert(1)"), "unusable payment link"),
        (PaymentStart("x1", redirect_url="https://pay.example/" + "a" * 2000), "unusable"),
        (PaymentStart("fk_1", redirect_url="https://pay.example/c"), "already in use"),
    ],
)
def test_a_gateway_answer_the_panel_cannot_use_leaves_the_deposit_failed(
    db: Database, fake_gateway: type[FakeGateway], start: PaymentStart, words: str
) -> None:
    alice = make_customer(db, "alice", balance="0")
    first = _start(db, alice.id, "10")  # its payment id is fk_1
    FakeGateway.start_override = start
    with pytest.raises(GatewayUnavailable, match=words):
        _start(db, alice.id, "10")
    second = _deposit(db, first + 1)
    assert (second.state, second.external_id, second.redirect_url) == ("failed", None, None)
    assert _deposit(db, first).external_id == "fk_1"
