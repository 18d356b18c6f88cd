"""Staff members: adding, roles and what they allow, the last owner kept,
logins with the throttle and TOTP codes, sessions ended by epoch bumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from smmpanel.accounts import two_factor
from smmpanel.accounts.passwords import LoginRefused, LoginThrottled, Throttle
from smmpanel.accounts.two_factor import TwoFactorRefused, current_code
from smmpanel.audit.models import Actor, AuditEntry
from smmpanel.db import Database
from smmpanel.staff.errors import InvalidStaffInput, LastOwner, StaffExists, StaffNotFound
from smmpanel.staff.logins import (
    begin_staff_two_factor,
    confirm_staff_two_factor,
    log_in_staff,
    log_in_staff_code,
    record_staff_login,
    session_staff,
    turn_off_staff_two_factor,
)
from smmpanel.staff.roles import ROLE_PERMISSIONS, Permission, Role, allowed
from smmpanel.staff.service import (
    add_staff,
    change_staff_role,
    list_staff,
    reset_staff_password,
    set_staff_active,
)

PASSWORD = "correct horse battery"
NOW = datetime(2026, 6, 1, 12, 0, 15, tzinfo=UTC)
CLI = Actor("cli", "tester")


def _secret_of(setup_uri: str) -> str:
    return setup_uri.split("secret=")[1].split("&")[0]


def test_roles_allow_what_the_issue_says() -> None:
    assert ROLE_PERMISSIONS[Role.OWNER] == frozenset(Permission)
    for permission in (Permission.MANAGE_SETTINGS, Permission.MANAGE_STAFF):
        assert not allowed("manager", permission)
        assert not allowed("support", permission)
    for permission in (Permission.MANAGE_CATALOG, Permission.CHANGE_ORDERS, Permission.MOVE_MONEY):
        assert allowed("manager", permission)
        assert not allowed("support", permission)
    for permission in (
        Permission.ANSWER_TICKETS,
        Permission.VIEW_ORDERS,
        Permission.HANDLE_REQUESTS,
    ):
        assert allowed("support", permission)
    assert not allowed("customer", Permission.VIEW_DASHBOARD)


def test_add_staff_generates_a_password_and_audits(db: Database) -> None:
    staff_id, password = add_staff(db, username="olga", role="Owner", actor=CLI)
    assert len(password) >= 20
    user = log_in_staff(db, username="olga", password=password, ip="1.2.3.4")
    assert (user.id, user.username, user.role, user.two_factor) == (
        staff_id,
        "olga",
        "owner",
        False,
    )
    with pytest.raises(StaffExists):
        add_staff(db, username="olga", role="support", actor=CLI)
    with pytest.raises(InvalidStaffInput):
        add_staff(db, username="olga smith", role="owner", actor=CLI)
    with pytest.raises(InvalidStaffInput):
        add_staff(db, username="sam", role="admin", actor=CLI)
    with pytest.raises(InvalidStaffInput):
        add_staff(db, username="sam", role="support", password="short", actor=CLI)
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject)
        ).all()
    assert [tuple(r) for r in rows] == [("cli:tester", "staff_added", "staff:olga")]


def test_wrong_passwords_are_refused_then_throttled(db: Database) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    throttle = Throttle(per_ip=100, per_user=3)
    for _ in range(3):
        with pytest.raises(LoginRefused):
            log_in_staff(
                db, username="olga", password="wrong one!", ip="9.9.9.9", throttle=throttle
            )
    with pytest.raises(LoginThrottled):  # even with the right password
        log_in_staff(db, username="olga", password=PASSWORD, ip="9.9.9.9", throttle=throttle)
    with pytest.raises(LoginRefused):
        log_in_staff(db, username="nobody", password=PASSWORD, ip="9.9.9.8")


def test_the_last_active_owner_stays(db: Database) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    add_staff(db, username="sam", role="support", password=PASSWORD, actor=CLI)
    with pytest.raises(LastOwner):
        change_staff_role(db, username="olga", role="manager", actor=CLI)
    with pytest.raises(LastOwner):
        set_staff_active(db, username="olga", active=False, actor=CLI)
    change_staff_role(db, username="sam", role="owner", actor=CLI)
    change_staff_role(db, username="olga", role="manager", actor=CLI)
    assert {(r.username, r.role) for r in list_staff(db)} == {("olga", "manager"), ("sam", "owner")}
    with pytest.raises(StaffNotFound):
        change_staff_role(db, username="nobody", role="owner", actor=CLI)


def test_changes_end_open_sessions(db: Database) -> None:
    add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    add_staff(db, username="sam", role="support", password=PASSWORD, actor=CLI)
    user = log_in_staff(db, username="sam", password=PASSWORD, ip="1.1.1.1")
    assert session_staff(db, staff_id=user.id, auth_epoch=user.auth_epoch) == user

    change_staff_role(db, username="sam", role="manager", actor=CLI)
    assert session_staff(db, staff_id=user.id, auth_epoch=user.auth_epoch) is None
    user = log_in_staff(db, username="sam", password=PASSWORD, ip="1.1.1.1")
    assert user.role == "manager"

    new = reset_staff_password(db, username="sam", actor=CLI)
    assert session_staff(db, staff_id=user.id, auth_epoch=user.auth_epoch) is None
    with pytest.raises(LoginRefused):
        log_in_staff(db, username="sam", password=PASSWORD, ip="1.1.1.1")
    user = log_in_staff(db, username="sam", password=new, ip="1.1.1.1")

    assert set_staff_active(db, username="sam", active=False, actor=CLI)
    assert not set_staff_active(db, username="sam", active=False, actor=CLI)
    assert session_staff(db, staff_id=user.id, auth_epoch=user.auth_epoch) is None
    with pytest.raises(LoginRefused):
        log_in_staff(db, username="sam", password=new, ip="1.1.1.1")
    set_staff_active(db, username="sam", active=True, actor=CLI)
    assert log_in_staff(db, username="sam", password=new, ip="1.1.1.1").username == "sam"


def test_two_factor_codes_work_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [NOW]
    monkeypatch.setattr(two_factor, "utcnow", lambda: clock[0])
    staff_id, _ = add_staff(db, username="olga", role="owner", password=PASSWORD, actor=CLI)
    setup = begin_staff_two_factor(db, staff_id=staff_id, issuer="MyPanel")
    assert setup.uri.startswith("otpauth://totp/") and "MyPanel" in setup.uri
    code = current_code(setup.secret, NOW)
    with pytest.raises(TwoFactorRefused):
        confirm_staff_two_factor(db, staff_id=staff_id, password="wrong one!", code=code)
    epoch = confirm_staff_two_factor(db, staff_id=staff_id, password=PASSWORD, code=code)

    user = log_in_staff(db, username="olga", password=PASSWORD, ip="1.1.1.1")
    assert user.two_factor and user.auth_epoch == epoch
    with pytest.raises(LoginRefused):  # the code that confirmed the set-up is used
        log_in_staff_code(db, staff_id=staff_id, auth_epoch=epoch, code=code, ip="1.1.1.1")
    clock[0] = NOW + timedelta(seconds=30)
    later = current_code(setup.secret, clock[0])
    assert log_in_staff_code(db, staff_id=staff_id, auth_epoch=epoch, code=later, ip="1.1.1.1")
    with pytest.raises(LoginRefused):  # and once only
        log_in_staff_code(db, staff_id=staff_id, auth_epoch=epoch, code=later, ip="1.1.1.1")
    record_staff_login(db, staff_id=staff_id, ip="1.1.1.1")
    assert list_staff(db)[0].last_login_at is not None

    assert turn_off_staff_two_factor(db, username="olga", actor=CLI)
    assert not turn_off_staff_two_factor(db, username="olga", actor=CLI)
    assert not log_in_staff(db, username="olga", password=PASSWORD, ip="1.1.1.1").two_factor
    with db.read() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == [
        "staff_added",
        "staff_two_factor_on",
        "staff_logged_in",
        "staff_two_factor_off",
    ]
