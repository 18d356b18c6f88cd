"""An account's own rate limit: the grammar, `users set --rate-limit`, `users list`."""

from __future__ import annotations

import json

import pytest

from smmpanel.accounts.errors import InvalidAccountInput
from smmpanel.accounts.queries import rate_limit_overrides
from smmpanel.accounts.rate_limit import BadRate, Rate, normalise_rate, parse_rate
from smmpanel.accounts.service import hash_key, rotate_api_key, set_rate_limit
from smmpanel.db import Database
from tests.cli.conftest import Run
from tests.factories import make_customer


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("50/s", Rate(50, 1)),
        (" 50 / Second ", Rate(50, 1)),
        ("50/seconds", Rate(50, 1)),
        ("600/m", Rate(600, 60)),
        ("600/minute", Rate(600, 60)),
        ("1/h", Rate(1, 3600)),
        ("1000000/hour", Rate(1_000_000, 3600)),
        ("off", None),
        ("OFF", None),
    ],
)
def test_rates_are_read(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    "text", ["", "50", "50/", "/s", "0/s", "-1/s", "1.5/s", "50/day", "50/ms", "1000001/s", "x/s"]
)
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(BadRate):
        parse_rate(text)


def test_a_rate_is_stored_in_one_spelling() -> None:
    assert [normalise_rate(t) for t in ("50/s", "600/MIN", "3/h", "Off")] == [
        "50/second",
        "600/minute",
        "3/hour",
        "off",
    ]


def test_set_rate_limit_stores_default_as_null(db: Database) -> None:
    alice = make_customer(db)
    assert set_rate_limit(db, username="alice", rate_limit="100/s") == "100/second"
    assert rate_limit_overrides(db) == {hash_key(alice.key): "100/second"}
    assert set_rate_limit(db, username="alice", rate_limit="off") == "off"
    assert rate_limit_overrides(db) == {hash_key(alice.key): "off"}
    assert set_rate_limit(db, username="alice", rate_limit="default") is None
    assert rate_limit_overrides(db) == {}
    with pytest.raises(InvalidAccountInput, match="or default"):
        set_rate_limit(db, username="alice", rate_limit="fast")


def test_overrides_follow_the_account_s_current_key(db: Database) -> None:
    make_customer(db)
    make_customer(db, "bob")
    set_rate_limit(db, username="alice", rate_limit="5/m")
    new_key = rotate_api_key(db, username="alice")
    assert rate_limit_overrides(db) == {hash_key(new_key): "5/minute"}


def test_users_set_rate_limit(run: Run, db: Database) -> None:
    make_customer(db)
    assert run("users", "set", "alice", "--rate-limit", "200/s").stdout.strip() == (
        "alice: rate limit 200/second"
    )
    assert json.loads(run("users", "list", "--json").stdout)[0]["rate_limit"] == "200/second"
    table = run("users", "list").stdout
    assert next(line for line in table.splitlines() if " alice " in line).split()[-1] == (
        "200/second"
    )
    run("users", "set", "alice", "--rate-limit", "off")
    assert json.loads(run("users", "list", "--json").stdout)[0]["rate_limit"] == "off"
    result = run("users", "set", "alice", "--rate-limit", "default", "--email", "a@example.com")
    assert result.stdout.strip() == "alice: email a@example.com; rate limit default"
    assert json.loads(run("users", "list", "--json").stdout)[0]["rate_limit"] == "default"


def test_a_bad_rate_limit_changes_nothing(run: Run, db: Database) -> None:
    make_customer(db)
    result = run("users", "set", "alice", "--rate-limit", "lots", "--status", "suspended", code=2)
    assert result.stderr.strip() == (
        "Error: 'lots' is not a rate limit; write N/second, N/minute or N/hour, or off (or default)"
    )
    row = json.loads(run("users", "list", "--json").stdout)[0]
    assert (row["status"], row["rate_limit"]) == ("active", "default")
    assert "no account 'bob'" in run("users", "set", "bob", "--rate-limit", "1/s", ok=False).stderr
