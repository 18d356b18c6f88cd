"""`smmpanel admins`: add (generated or given password), list, roles, disable,
reset, 2fa-off; refusals are one Error: line."""

from __future__ import annotations

import json

from smmpanel.db import Database
from smmpanel.staff.logins import log_in_staff
from tests.cli.conftest import Run

PASSWORD = "correct horse battery"


def test_admins_cli(db: Database, run: Run) -> None:
    added = run("admins", "add", "olga").stdout
    generated = added.strip().splitlines()[-1].removeprefix("password (shown once): ")
    assert log_in_staff(db, username="olga", password=generated, ip="1.1.1.1").role == "owner"

    given = run(
        "admins", "add", "sam", "--role", "support", "--password-stdin", input=PASSWORD + "\n"
    )
    assert "password" not in given.stdout.splitlines()[-1] or "shown once" not in given.stdout
    assert log_in_staff(db, username="sam", password=PASSWORD, ip="1.1.1.1").role == "support"

    listed = json.loads(run("admins", "list", "--json").stdout)
    assert [(s["username"], s["role"], s["status"], s["two_factor"]) for s in listed] == [
        ("olga", "owner", "active", False),
        ("sam", "support", "active", False),
    ]
    run("admins", "set-role", "sam", "manager")
    run("admins", "disable", "sam")
    assert "disabled already" in run("admins", "disable", "sam").stdout
    run("admins", "enable", "sam")
    reset = run("admins", "reset-password", "sam").stdout.strip().splitlines()[-1]
    new = reset.removeprefix("password (shown once): ")
    assert log_in_staff(db, username="sam", password=new, ip="1.1.1.1").role == "manager"
    assert "was not on" in run("admins", "2fa-off", "sam").stdout

    run("admins", "add", "olga", ok=False)  # exists
    run("admins", "set-role", "olga", "support", ok=False)  # the only owner
    run("admins", "disable", "nobody", ok=False)
    run("admins", "add", "x y", code=2)
    run("admins", "add", "zed", "--role", "root", code=2)
    run("admins", "add", "zed", "--password-stdin", input="short\n", code=2)
    assert "never" in run("admins", "list").stdout or "20" in run("admins", "list").stdout
