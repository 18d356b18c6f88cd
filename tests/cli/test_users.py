"""`smmpanel users ...`."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from smmpanel.accounts.errors import InvalidApiKey
from smmpanel.accounts.queries import account_balance, authenticate
from smmpanel.catalog.queries import list_services
from smmpanel.db import Database
from smmpanel.orders.webhooks import sign, verify_signature
from tests.cli.conftest import Run, last_line
from tests.factories import make_customer, make_service


def test_add_prints_a_working_key_last(run: Run, db: Database) -> None:
    result = run("users", "add", "alice", "--email", "alice@example.com")
    key = last_line(result)
    principal = authenticate(db, key)
    assert principal.username == "alice"
    assert principal.currency == "USD"
    assert "created account alice" in result.stdout


def test_add_in_another_currency(run: Run, db: Database) -> None:
    run("currencies", "set", "EUR", "0.92")
    principal = authenticate(db, last_line(run("users", "add", "eve", "--currency", "eur")))
    assert (principal.currency, principal.fx_rate) == ("EUR", Decimal("0.92"))


def test_add_refusals(run: Run) -> None:
    run("users", "add", "alice")
    assert "exists already" in run("users", "add", "alice", ok=False).stderr
    assert (
        "unknown currency 'GBP'" in run("users", "add", "bob", "--currency", "GBP", ok=False).stderr
    )
    assert "username" in run("users", "add", "bad name", code=2).stderr


def test_fund_and_deduct(run: Run, db: Database) -> None:
    account_id = authenticate(db, last_line(run("users", "add", "alice"))).account_id
    result = run("users", "fund", "alice", "25.5", "--note", "bank transfer")
    assert result.stdout.strip() == "alice: +25.50000 USD, balance 25.50000 USD"
    # A negative amount is the amount, not an unknown option.
    result = run("users", "fund", "alice", "-0.5")
    assert result.stdout.strip() == "alice: -0.50000 USD, balance 25.00000 USD"
    assert account_balance(db, account_id) == (2_500_000, "USD")


def test_deduction_below_zero_is_refused(run: Run, db: Database) -> None:
    customer = make_customer(db, balance="10")
    result = run("users", "fund", customer.username, "-10.00001", ok=False)
    assert result.stderr.strip() == (
        "Error: cannot deduct 10.00001 USD from alice: the balance is 10.00000 USD "
        "and never goes below zero"
    )
    assert account_balance(db, customer.id) == (1_000_000, "USD")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("nobody", "5"), 1, "no account 'nobody'"),
        (("alice", "abc"), 2, "not a decimal number"),
        (("alice", "0"), 2, "must not be zero"),
    ],
)
def test_fund_refusals(
    run: Run, db: Database, args: tuple[str, str], code: int, message: str
) -> None:
    make_customer(db, balance="0")
    assert message in run("users", "fund", *args, code=code).stderr


def test_set_options_and_rates(run: Run, db: Database) -> None:
    customer = make_customer(db)
    service = make_service(db, rate="0.90")
    result = run(
        "users",
        "set",
        "alice",
        "--extended-fields",
        "--rate",
        f"{service}=0.5",
        "--email",
        "new@example.com",
    )
    assert result.stdout.strip() == (
        f"alice: extended fields on; email new@example.com; rate for service {service} 0.50000"
    )
    assert authenticate(db, customer.key).extended_fields is True
    priced = list_services(db, account_id=customer.id)
    assert priced[0].rate == 50_000
    run("users", "set", "alice", "--rate", f"{service}=none", "--no-extended-fields")
    assert list_services(db, account_id=customer.id)[0].rate == 90_000
    assert authenticate(db, customer.key).extended_fields is False
    listed = json.loads(run("users", "list", "--json").stdout)
    assert listed[0]["email"] == "new@example.com"


def test_suspend_and_reactivate(run: Run, db: Database) -> None:
    customer = make_customer(db)
    run("users", "set", "alice", "--status", "Suspended")
    with pytest.raises(InvalidApiKey):
        authenticate(db, customer.key)
    run("users", "set", "alice", "--status", "active")
    assert authenticate(db, customer.key).account_id == customer.id


def test_set_refusals(run: Run, db: Database) -> None:
    make_customer(db)
    assert (
        "unknown status 'frozen'"
        in run("users", "set", "alice", "--status", "frozen", code=2).stderr
    )
    assert "nothing to change" in run("users", "set", "alice", code=2).stderr
    assert "SERVICE_ID=RATE" in run("users", "set", "alice", "--rate", "1:5", code=2).stderr
    # An unknown service is found before anything changes.
    result = run("users", "set", "alice", "--status", "suspended", "--rate", "99=1", ok=False)
    assert "no service 99" in result.stderr
    assert json.loads(run("users", "list", "--json").stdout)[0]["status"] == "active"
    assert "no account 'bob'" in run("users", "set", "bob", "--status", "active", ok=False).stderr


def test_rotate_key(run: Run, db: Database) -> None:
    customer = make_customer(db)
    new_key = last_line(run("users", "rotate-key", "alice"))
    assert new_key != customer.key
    assert authenticate(db, new_key).account_id == customer.id
    with pytest.raises(InvalidApiKey):
        authenticate(db, customer.key)
    assert "no account" in run("users", "rotate-key", "nobody", ok=False).stderr


def test_list(run: Run, db: Database) -> None:
    assert "no accounts yet" in run("users", "list").stdout
    alice = make_customer(db, "alice", balance="12.34567")
    make_customer(db, "bob", balance="0")
    rows = json.loads(run("users", "list", "--json").stdout)
    assert rows == [
        {
            "id": alice.id,
            "username": "alice",
            "email": None,
            "status": "active",
            "currency": "USD",
            "balance": "12.34567",
            "extended_fields": False,
            "key_prefix": alice.key[:6],
            "orders": 0,
            "rate_limit": "default",
        },
        {
            "id": rows[1]["id"],
            "username": "bob",
            "email": None,
            "status": "active",
            "currency": "USD",
            "balance": "0.00000",
            "extended_fields": False,
            "key_prefix": rows[1]["key_prefix"],
            "orders": 0,
            "rate_limit": "default",
        },
    ]
    table = run("users", "list").stdout
    alice_line = next(line for line in table.splitlines() if " alice " in line)
    assert alice_line.split() == [
        "1",
        "alice",
        "active",
        "USD",
        "12.34567",
        "off",
        f"{alice.key[:6]}...",
        "0",
        "default",
    ]


def test_webhook_set_change_rotate_remove(run: Run, db: Database) -> None:
    make_customer(db, "hooked")
    secret = last_line(run("users", "webhook", "hooked", "https://shop.example/hook"))
    assert len(secret) >= 43
    assert verify_signature(secret, b"{}", sign(secret, b"{}"))
    changed = run("users", "webhook", "hooked", "https://shop.example/new").stdout
    assert "secret is unchanged" in changed and secret not in changed
    rotated = last_line(run("users", "webhook", "hooked", "--rotate-secret"))
    assert rotated != secret
    run("users", "webhook", "hooked", "--remove")
    run("users", "webhook", "hooked", "--rotate-secret", ok=False)  # no webhook any more
    run("users", "webhook", "hooked", "ftp://nope", code=2)
    run("users", "webhook", "hooked", code=2)  # nothing asked
