"""TOTP two-factor logins: set-up, confirmation, codes used once, the window,
turning off (by the customer, and by the owner for a lost device)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from smmpanel.accounts import two_factor
from smmpanel.accounts.models import Account
from smmpanel.accounts.passwords import LoginRefused, LoginThrottled, Throttle, set_password
from smmpanel.accounts.two_factor import (
    TwoFactorRefused,
    begin_two_factor,
    confirm_two_factor,
    current_code,
    disable_two_factor,
    log_in_code,
    requires_code,
    turn_off_two_factor,
    two_factor_status,
)
from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.db import Database
from tests.factories import Customer, make_customer

PASSWORD = "correct horse battery"
# Mid-step (30 s steps): a code made "now" and checked "now" share a step.
NOW = datetime(2026, 6, 1, 12, 0, 15, tzinfo=UTC)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The clock two_factor reads, settable by the test."""
    clock = [NOW]
    monkeypatch.setattr(two_factor, "utcnow", lambda: clock[0])
    return clock


def _customer(db: Database) -> Customer:
    customer = make_customer(db, username="tina")
    set_password(db, username="tina", password=PASSWORD)
    return customer


def _enabled(db: Database, customer: Customer) -> str:
    setup = begin_two_factor(db, account_id=customer.id, issuer="My Panel")
    confirm_two_factor(
        db, account_id=customer.id, password=PASSWORD, code=current_code(setup.secret, NOW)
    )
    return setup.secret


def _epoch(db: Database, customer: Customer) -> int:
    with db.read() as session:
        return session.get_one(Account, customer.id).auth_epoch


def test_set_up_and_confirm(db: Database, frozen: list[datetime]) -> None:
    customer = _customer(db)
    setup = begin_two_factor(db, account_id=customer.id, issuer="My Panel")
    assert setup.uri.startswith("otpauth://totp/My%20Panel:tina?secret=")
    assert f"secret={setup.secret}" in setup.uri and "issuer=My%20Panel" in setup.uri
    with db.read() as session:
        account = session.get_one(Account, customer.id)
        assert account.totp_secret is None
        assert account.totp_pending and account.totp_pending.startswith("enc1:")
        assert setup.secret not in account.totp_pending
    status = two_factor_status(db, account_id=customer.id, issuer="My Panel")
    assert (status.enabled, status.pending) == (False, setup)
    assert not requires_code(db, account_id=customer.id)

    code = current_code(setup.secret, NOW)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    epoch = _epoch(db, customer)
    for password, given, message in [
        (PASSWORD, wrong, "the code is wrong"),
        (PASSWORD, "12ab56", "the code is wrong"),
        (PASSWORD, "", "the code is wrong"),
        ("not the password", code, "the password is wrong"),
    ]:
        with pytest.raises(TwoFactorRefused, match=message):
            confirm_two_factor(db, account_id=customer.id, password=password, code=given)
    assert not requires_code(db, account_id=customer.id)

    new_epoch = confirm_two_factor(
        db, account_id=customer.id, password=PASSWORD, code=f"{code[:3]} {code[3:]}"
    )
    assert new_epoch == epoch + 1 == _epoch(db, customer)  # other sessions logged out
    assert requires_code(db, account_id=customer.id)
    status = two_factor_status(db, account_id=customer.id, issuer="My Panel")
    assert (status.enabled, status.pending) == (True, None)
    with pytest.raises(TwoFactorRefused, match="on already"):
        begin_two_factor(db, account_id=customer.id, issuer="My Panel")


def test_a_code_works_once(db: Database, frozen: list[datetime]) -> None:
    customer = _customer(db)
    secret = _enabled(db, customer)
    epoch = _epoch(db, customer)
    # The confirming code's step is used already.
    with pytest.raises(LoginRefused, match="wrong or used"):
        log_in_code(
            db, account_id=customer.id, auth_epoch=epoch, code=current_code(secret, NOW), ip="i"
        )
    later = NOW + timedelta(seconds=30)
    frozen[0] = later
    code = current_code(secret, later)
    user = log_in_code(db, account_id=customer.id, auth_epoch=epoch, code=code, ip="i")
    assert (user.id, user.username) == (customer.id, "tina")
    with pytest.raises(LoginRefused, match="wrong or used"):
        log_in_code(db, account_id=customer.id, auth_epoch=epoch, code=code, ip="i")
    # An earlier step's code, still inside the window, is refused too: steps only go forward.
    frozen[0] = NOW + timedelta(seconds=60)
    with pytest.raises(LoginRefused):
        log_in_code(
            db, account_id=customer.id, auth_epoch=epoch, code=current_code(secret, NOW), ip="i"
        )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-60, False), (-30, True), (0, True), (30, True), (60, False), (3600, False)],
)
def test_the_window_is_one_step_either_side(
    db: Database, frozen: list[datetime], offset: int, accepted: bool
) -> None:
    customer = _customer(db)
    secret = _enabled(db, customer)
    epoch = _epoch(db, customer)
    frozen[0] = NOW + timedelta(minutes=5)  # well past the confirming step
    code = current_code(secret, frozen[0] + timedelta(seconds=offset))
    if accepted:
        log_in_code(db, account_id=customer.id, auth_epoch=epoch, code=code, ip="i")
    else:
        with pytest.raises(LoginRefused):
            log_in_code(db, account_id=customer.id, auth_epoch=epoch, code=code, ip="i")


def test_wrong_codes_are_throttled_like_passwords(db: Database, frozen: list[datetime]) -> None:
    customer = _customer(db)
    secret = _enabled(db, customer)
    epoch = _epoch(db, customer)
    throttle = Throttle(per_ip=100, per_user=3)
    for _ in range(3):
        with pytest.raises(LoginRefused):
            log_in_code(
                db,
                account_id=customer.id,
                auth_epoch=epoch,
                code="000000",
                ip="i",
                throttle=throttle,
            )
    frozen[0] = NOW + timedelta(seconds=30)
    with pytest.raises(LoginThrottled):  # even the right code, as for passwords
        log_in_code(
            db,
            account_id=customer.id,
            auth_epoch=epoch,
            code=current_code(secret, frozen[0]),
            ip="other",
            throttle=throttle,
        )


def test_a_stale_epoch_needs_a_new_login(db: Database, frozen: list[datetime]) -> None:
    customer = _customer(db)
    secret = _enabled(db, customer)
    epoch = _epoch(db, customer)
    set_password(db, username="tina", password="a different password")
    frozen[0] = NOW + timedelta(seconds=30)
    with pytest.raises(LoginRefused):
        log_in_code(
            db,
            account_id=customer.id,
            auth_epoch=epoch,
            code=current_code(secret, frozen[0]),
            ip="i",
        )


def test_disable_needs_the_password_and_a_code(db: Database, frozen: list[datetime]) -> None:
    customer = _customer(db)
    secret = _enabled(db, customer)
    frozen[0] = NOW + timedelta(seconds=30)
    code = current_code(secret, frozen[0])
    with pytest.raises(TwoFactorRefused, match="password is wrong"):
        disable_two_factor(db, account_id=customer.id, password="nope nope", code=code)
    with pytest.raises(TwoFactorRefused, match="wrong or used"):
        disable_two_factor(db, account_id=customer.id, password=PASSWORD, code="123456x")
    disable_two_factor(db, account_id=customer.id, password=PASSWORD, code=code)
    assert not requires_code(db, account_id=customer.id)
    with db.read() as session:
        account = session.get_one(Account, customer.id)
        assert (account.totp_secret, account.totp_pending, account.totp_last_step) == (
            None,
            None,
            None,
        )
    with pytest.raises(TwoFactorRefused, match="is off"):
        disable_two_factor(db, account_id=customer.id, password=PASSWORD, code=code)


def test_the_owner_turns_it_off(db: Database, frozen: list[datetime]) -> None:
    customer = _customer(db)
    _enabled(db, customer)
    assert turn_off_two_factor(db, username="tina", actor=Actor("cli", "owner")) is True
    assert not requires_code(db, account_id=customer.id)
    assert turn_off_two_factor(db, username="tina", actor=Actor("cli", "owner")) is False
    with db.read() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "two_factor_turned_off")
        ).all()
    assert [(row.actor, row.subject) for row in rows] == [("cli:owner", f"account:{customer.id}")]


def test_codes_match_an_authenticator_app(db: Database) -> None:
    """No frozen clock: pyotp's own TOTP, as a phone computes it, is accepted."""
    customer = _customer(db)
    setup = begin_two_factor(db, account_id=customer.id, issuer="p")
    code = pyotp.TOTP(setup.secret).now()
    confirm_two_factor(db, account_id=customer.id, password=PASSWORD, code=code)
    assert requires_code(db, account_id=customer.id)
