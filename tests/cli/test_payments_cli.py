"""`smmpanel gateways ...` and `smmpanel deposits ...` through the real command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.payments.crediting import apply_gateway_event
from smmpanel.payments.gateway import EventKind
from smmpanel.payments.models import PaymentGateway
from smmpanel.payments.service import start_deposit
from tests.cli.conftest import Run
from tests.factories import make_customer
from tests.payments.conftest import install_plugin, uninstall_plugin
from tests.payments.fakes import FakeGateway, event
from tests.payments.helpers import balance, deposit_of, entries

SECRET = "whsec-never-printed-0123"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[type[FakeGateway]]:
    FakeGateway.answers, FakeGateway.down, FakeGateway.created = {}, False, []
    FakeGateway.start_override = None
    install_plugin(tmp_path / "site", "fake_gateway", {"fake": "tests.payments.fakes:FakeGateway"})
    yield FakeGateway
    uninstall_plugin(tmp_path / "site")


def _gateways(run: Run) -> dict[str, dict[str, object]]:
    return {row["code"]: row for row in json.loads(run("gateways", "list", "--json").stdout)}


def _manual_deposit(run: Run, db: Database, amount: str = "40") -> int:
    run("gateways", "set", "manual", "instructions=Pay to IBAN DE00 1234")
    run("gateways", "enable", "manual")
    customer = make_customer(db, "alice", balance="0")
    started = start_deposit(
        db,
        account_id=customer.id,
        gateway="manual",
        amount=amount,
        panel_url="https://panel.example",
        actor=Actor("web", "alice"),
    )
    return started.deposit_id


def test_gateways_list_set_enable_and_disable(run: Run, db: Database) -> None:
    manual = _gateways(run)["manual"]
    assert (manual["enabled"], manual["missing"], manual["manual"]) == (
        False,
        ["instructions"],
        True,
    )
    assert "needs instructions" in run("gateways", "list").stdout
    assert "set instructions first" in run("gateways", "enable", "manual", ok=False).stderr
    out = run("gateways", "set", "manual", "instructions=IBAN X", "min=5", "bonus=100:5").stdout
    assert out.strip() == "Gateway manual: instructions, min, bonus set."
    assert run("gateways", "enable", "manual").stdout.strip() == "Gateway manual enabled."
    manual = _gateways(run)["manual"]
    assert (manual["enabled"], manual["min"], manual["max"], manual["bonus"]) == (
        True,
        "5",
        "10000",
        "+5% from 100",
    )
    assert manual["settings"] == {"instructions": "IBAN X"}
    run("gateways", "disable", "manual")
    assert _gateways(run)["manual"]["enabled"] is False


def test_a_secret_is_read_from_stdin_or_the_environment_and_never_shown(
    run: Run, db: Database, fake: type[FakeGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _gateways(run)["fake"]["settings"] == {"secret": "not set", "shop": "test-shop"}
    result = run("gateways", "set", "fake", "secret=-", "currency=eur", input=SECRET + "\n")
    assert SECRET not in result.output
    assert _gateways(run)["fake"]["settings"] == {"secret": "set", "shop": "test-shop"}
    listing = run("gateways", "list").stdout + run("gateways", "list", "--json").stdout
    assert SECRET not in listing
    with db.read() as session:
        row = session.get(PaymentGateway, "fake")
        assert row is not None and SECRET not in row.settings
    monkeypatch.setenv("FAKE_SECRET", "from-the-env")
    run("gateways", "set", "fake", "--from-env", "secret=FAKE_SECRET")
    run("gateways", "enable", "fake")
    assert _gateways(run)["fake"]["enabled"] is True
    assert (
        "not set or empty"
        in run(
            "gateways", "set", "fake", "--from-env", "secret=NO_SUCH_VARIABLE_X", ok=False
        ).stderr
    )


def test_gateways_set_refuses_bad_settings(run: Run, db: Database) -> None:
    assert (
        "unknown setting 'colour'" in run("gateways", "set", "manual", "colour=red", code=2).stderr
    )
    assert "NAME=VALUE" in run("gateways", "set", "manual", "min", code=2).stderr
    assert "NAME=VALUE" in run("gateways", "set", "manual", code=2).stderr
    assert "given twice" in run("gateways", "set", "manual", "min=1", "min=2", code=2).stderr
    assert "not be above max" in run("gateways", "set", "manual", "min=9", "max=8", code=2).stderr
    assert (
        "no payment gateway 'nosuch'" in run("gateways", "set", "nosuch", "min=1", ok=False).stderr
    )
    assert "no payment gateway" in run("gateways", "enable", "nosuch", ok=False).stderr


def test_deposits_list_show_and_approve_a_manual_transfer(run: Run, db: Database) -> None:
    deposit_id = _manual_deposit(run, db, "40")
    rows = json.loads(run("deposits", "list", "--state", "pending", "--json").stdout)
    assert [(r["id"], r["user"], r["amount"], r["state"]) for r in rows] == [
        (deposit_id, "alice", "40.00000", "pending")
    ]
    assert json.loads(run("deposits", "list", "--state", "paid", "--json").stdout) == []
    assert f"D-{deposit_id:06d}" in run("deposits", "list", "--user", "alice").stdout
    out = run("deposits", "approve", str(deposit_id), "--note", "on the statement").stdout
    assert out.strip() == f"Deposit {deposit_id} approved: 40.00000 credited."
    assert balance(db, deposit_of(db, deposit_id).account_id) == 4_000_000
    shown = json.loads(run("deposits", "show", str(deposit_id), "--json").stdout)
    assert shown["state"] == "paid"
    assert "IBAN DE00 1234" in shown["instructions"]
    assert [(e["kind"], e["to"]) for e in shown["events"]] == [
        ("create", "created"),
        ("start", "pending"),
        ("approve", "paid"),
    ]
    assert shown["events"][-1]["note"] == "on the statement"
    text = run("deposits", "show", str(deposit_id)).stdout
    assert "state: paid" in text and "approve" in text
    # Approving again is refused; the money is credited once.
    assert "is paid" in run("deposits", "approve", str(deposit_id), ok=False).stderr
    assert len(entries(db, deposit_of(db, deposit_id).account_id)) == 1
    assert find_balance_mismatches(db) == []


def test_deposits_reject_and_check(run: Run, db: Database) -> None:
    deposit_id = _manual_deposit(run, db)
    out = run("deposits", "check", str(deposit_id)).stdout
    assert out.strip() == f"Deposit {deposit_id}: pending (no change)."
    run("deposits", "reject", str(deposit_id), "--reason", "never arrived")
    assert deposit_of(db, deposit_id).state == "rejected"
    assert "is rejected" in run("deposits", "approve", str(deposit_id), ok=False).stderr
    assert balance(db, deposit_of(db, deposit_id).account_id) == 0


def test_deposits_check_applies_what_the_gateway_says_and_reports_it_unreachable(
    run: Run, db: Database, fake: type[FakeGateway]
) -> None:
    run("gateways", "set", "fake", "secret=x")
    run("gateways", "enable", "fake")
    customer = make_customer(db, "alice", balance="0")
    started = start_deposit(
        db,
        account_id=customer.id,
        gateway="fake",
        amount="15",
        panel_url="https://panel.example",
        actor=Actor("web", "alice"),
    )
    FakeGateway.down = True
    assert (
        "could not be asked" in run("deposits", "check", str(started.deposit_id), ok=False).stderr
    )
    FakeGateway.down = False
    FakeGateway.answers[started.deposit_id] = event(EventKind.PAID, None, "15")
    out = run("deposits", "check", str(started.deposit_id)).stdout
    assert out.strip() == f"Deposit {started.deposit_id}: paid (15.00000 credited)."
    assert balance(db, customer.id) == 1_500_000
    # A held one shows, and the owner approves it.
    second = start_deposit(
        db,
        account_id=customer.id,
        gateway="fake",
        amount="10",
        panel_url="https://panel.example",
        actor=Actor("web", "alice"),
    ).deposit_id
    gateway = Actor("gateway", "fake")
    apply_gateway_event(db, gateway="fake", event=event(EventKind.PAID, second, "9"), actor=gateway)
    held = json.loads(run("deposits", "list", "--state", "held", "--json").stdout)
    assert [r["id"] for r in held] == [second]
    run("deposits", "approve", str(second))
    assert balance(db, customer.id) == 2_500_000
    assert find_balance_mismatches(db) == []


def test_deposits_refusals(run: Run, db: Database) -> None:
    assert "unknown state 'bogus'" in run("deposits", "list", "--state", "bogus", code=2).stderr
    assert "no deposit 9" in run("deposits", "show", "9", ok=False).stderr
    assert "no deposit 9" in run("deposits", "approve", "9", ok=False).stderr
    assert "no account 'bob'" in run("deposits", "list", "--user", "bob", ok=False).stderr
    deposit_id = _manual_deposit(run, db)
    assert "reason" in run("deposits", "reject", str(deposit_id), "--reason", " ", code=2).stderr
