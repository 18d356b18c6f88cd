"""Secrets at rest: provider keys and webhook secrets are stored encrypted,
read back (plain values from before too), re-encrypted by `secrets rotate`;
without a secret key the commands that need one stop with exit code 2."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text, update

from smmpanel.accounts.models import Account
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.orders.webhooks import deliver_webhook, set_webhook, verify_signature
from smmpanel.providers.catalog_sync import fetch_provider_balance
from smmpanel.providers.gateway import ProviderAccess
from smmpanel.providers.models import Provider
from smmpanel.providers.service import add_provider, provider_by_name
from smmpanel.schema import upgrade_schema
from smmpanel.secretbox import (
    CURRENT_KEY,
    OLD_KEY,
    PLAIN,
    SecretBox,
    SecretKeyError,
    new_key,
)
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.cli.conftest import invoke
from tests.conftest import TEST_SECRET_KEY
from tests.e2e.processes import SMMPANEL, smmpanel_env
from tests.factories import make_customer
from tests.security.servers import running_target

OLD = "b2xkLWtleS1vZi10aGUtc21tcGFuZWwtdGVzdHMhISE="  # "old-key-of-the-smmpanel-tests!!!"


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


ALL_SECRETS = (
    "SELECT api_key FROM providers UNION ALL SELECT webhook_secret FROM accounts"
    " UNION ALL SELECT totp_secret FROM accounts UNION ALL SELECT totp_pending FROM accounts"
)


def _raw(db: Database, sql: str) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


# --- the box -----------------------------------------------------------------------


def test_a_sealed_value_opens_with_its_key_and_hides_the_plain_text() -> None:
    box = SecretBox(TEST_SECRET_KEY)
    sealed = box.seal("provider-key-123")
    assert sealed.startswith("enc1:gAAAAA") and "provider-key-123" not in sealed
    assert box.open(sealed) == "provider-key-123"
    assert box.seal("provider-key-123") != sealed  # a fresh IV each time
    assert box.open("written-before-encryption") == "written-before-encryption"


def test_former_keys_read_and_never_write() -> None:
    old_box = SecretBox(OLD)
    by_old = old_box.seal("s3cret")
    box = SecretBox(TEST_SECRET_KEY, [OLD])
    assert box.open(by_old) == "s3cret"
    assert (box.state(by_old), box.state(box.seal("x")), box.state("x")) == (
        OLD_KEY,
        CURRENT_KEY,
        PLAIN,
    )
    with pytest.raises(Exception):  # noqa: B017 - the old key cannot open new values
        old_box.open(box.seal("x"))


def test_a_value_no_key_opens_is_a_clear_error() -> None:
    sealed = SecretBox(OLD).seal("s3cret")
    with pytest.raises(SecretKeyError) as error:
        SecretBox(TEST_SECRET_KEY).open(sealed)
    assert "cannot be decrypted with SMMPANEL_SECRET_KEY or SMMPANEL_SECRET_KEY_OLD" in str(
        error.value
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(secret_key=None), "SMMPANEL_SECRET_KEY is not set"),
        (Settings(secret_key=SecretStr("")), "SMMPANEL_SECRET_KEY is not set"),
        (Settings(secret_key=SecretStr("not-a-key")), "SMMPANEL_SECRET_KEY is not a valid key"),
        (
            Settings(
                secret_key=SecretStr(TEST_SECRET_KEY), secret_key_old=SecretStr(f"{OLD}, short")
            ),
            "SMMPANEL_SECRET_KEY_OLD is not a valid key",
        ),
    ],
)
def test_a_missing_or_bad_key_says_how_to_make_one(settings: Settings, message: str) -> None:
    with pytest.raises(SecretKeyError) as error:
        SecretBox.from_settings(settings)
    assert str(error.value).startswith(message)
    assert "`smmpanel secrets new-key`" in str(error.value)
    assert "not-a-key" not in str(error.value) and "short" not in str(error.value)


def test_old_keys_are_a_list() -> None:
    other = new_key()
    box = SecretBox.from_settings(
        Settings(
            secret_key=SecretStr(TEST_SECRET_KEY), secret_key_old=SecretStr(f" {OLD},{other} ")
        )
    )
    assert box.open(SecretBox(other).seal("a")) == "a"
    assert box.open(SecretBox(OLD).seal("b")) == "b"


# --- stored values ------------------------------------------------------------------


def test_provider_keys_and_webhook_secrets_are_stored_encrypted(db: Database) -> None:
    add_provider(db, name="up", api_url="https://up.example/api/v2", api_key="PLAINKEY-42")
    customer = make_customer(db)
    secret = set_webhook(db, username=customer.username, url="https://shop.example/hook")
    assert secret is not None
    [(stored_key,)] = _raw(db, "SELECT api_key FROM providers")
    [(stored_secret,)] = _raw(db, "SELECT webhook_secret FROM accounts")
    for stored, plain in [(stored_key, "PLAINKEY-42"), (stored_secret, secret)]:
        assert isinstance(stored, str) and stored.startswith("enc1:") and plain not in stored
        assert Fernet(TEST_SECRET_KEY).decrypt(stored[5:].encode()).decode() == plain
    with db.read() as session:
        assert ProviderAccess.of(provider_by_name(session, "up")).api_key == "PLAINKEY-42"


def test_the_longest_key_fits_its_column_once_encrypted(db: Database) -> None:
    key = "k" * 500  # PostgreSQL enforces the width; SQLite would not notice
    add_provider(db, name="up", api_url="https://up.example/api/v2", api_key=key)
    with db.read() as session:
        assert ProviderAccess.of(provider_by_name(session, "up")).api_key == key


def test_plain_values_from_before_are_still_used(
    db: Database, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_provider(db, name="up", api_url=sim.api_url, api_key="placeholder")
    customer = make_customer(db)
    with running_target() as receiver:
        set_webhook(db, username=customer.username, url=f"{receiver.url}/hook")
        with db.write() as session:  # as a panel before encryption stored them
            session.execute(update(Provider).values(api_key=sim.key))
            session.execute(update(Account).values(webhook_secret="old-plain-secret"))
        monkeypatch.delenv("SMMPANEL_SECRET_KEY")  # plain values need no key
        balance, _ = fetch_provider_balance(db, provider_name="up")
        deliver_webhook(
            db,
            {"account_id": customer.id, "event": "e", "event_id": "o-1-2", "timestamp": 1}
            | {"body": '{"a":1}'},
        )
    assert str(balance) == "1000.00000"
    [seen] = receiver.seen
    assert verify_signature("old-plain-secret", seen.body, seen.headers["x-smmpanel-signature"])


def test_upgrading_keeps_plain_secrets_readable(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(f"sqlite:///{path}")
    upgrade_schema(db, "0002")
    raw = sqlite3.connect(path)
    raw.executescript(
        """
        INSERT INTO providers(name, api_url, api_key, method, dialect, status, paused_reason,
            created_at) VALUES ('up', 'https://up.example/api/v2', 'OLDKEY', 'post', '{}',
            'active', '', '2026-01-01');
        INSERT INTO accounts(username, status, currency, balance, extended_fields, webhook_url,
            webhook_secret, created_at) VALUES ('a', 'active', 'USD', 0, 0,
            'https://shop.example/hook', 'OLDSECRET', '2026-01-01');
        """
    )
    raw.commit()
    raw.close()
    upgrade_schema(db)
    try:
        with db.read() as session:
            assert ProviderAccess.of(provider_by_name(session, "up")).api_key == "OLDKEY"
        result = invoke(["--database-url", db.url, "secrets", "rotate"])
        assert result.exit_code == 0, result.output
        assert "provider keys: 1 encrypted (were plain)" in result.stdout
        assert "webhook secrets: 1 encrypted (were plain)" in result.stdout
        stored = _raw(
            db, "SELECT api_key FROM providers UNION ALL SELECT webhook_secret FROM accounts"
        )
        box = SecretBox(TEST_SECRET_KEY)
        assert [box.open(str(value)) for (value,) in stored] == ["OLDKEY", "OLDSECRET"]
    finally:
        db.dispose()


# --- rotation -------------------------------------------------------------------------


def _store(
    db: Database,
    provider_key: str,
    webhook_secret: str,
    totp_secret: str = "PLAIN-TOTP",
    totp_pending: str = "PLAIN-PENDING",
) -> None:
    make_customer(db)
    add_provider(db, name="up", api_url="https://up.example/api/v2", api_key="x")
    with db.write() as session:
        session.execute(update(Provider).values(api_key=provider_key))
        session.execute(
            update(Account).values(
                webhook_url="https://shop.example/h",
                webhook_secret=webhook_secret,
                totp_secret=totp_secret,
                totp_pending=totp_pending,
            )
        )


def test_rotate_moves_every_secret_to_the_new_key(db: Database) -> None:
    _store(db, SecretBox(OLD).seal("PROVIDER-KEY"), "PLAIN-SECRET")
    new = new_key()
    env = {"SMMPANEL_SECRET_KEY": new, "SMMPANEL_SECRET_KEY_OLD": OLD}
    dry = invoke(["--database-url", db.url, "secrets", "rotate", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "dry run: 4 would change" in dry.stdout
    assert _raw(db, "SELECT webhook_secret FROM accounts") == [("PLAIN-SECRET",)]
    done = invoke(["--database-url", db.url, "secrets", "rotate"], env=env)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        "provider keys: 0 encrypted (were plain), 1 re-encrypted (former key), "
        "0 already with the current key",
        "webhook secrets: 1 encrypted (were plain), 0 re-encrypted (former key), "
        "0 already with the current key",
        "two-factor secrets: 1 encrypted (were plain), 0 re-encrypted (former key), "
        "0 already with the current key",
        "pending two-factor secrets: 1 encrypted (were plain), 0 re-encrypted (former key), "
        "0 already with the current key",
        "payment gateway secrets: 0 encrypted (were plain), 0 re-encrypted (former key), "
        "0 already with the current key",
        "4 re-encrypted; SMMPANEL_SECRET_KEY_OLD is no longer needed",
    ]
    only_new = SecretBox(new)
    values = _raw(db, ALL_SECRETS)
    assert [only_new.open(str(v)) for (v,) in values] == [
        "PROVIDER-KEY",
        "PLAIN-SECRET",
        "PLAIN-TOTP",
        "PLAIN-PENDING",
    ]
    again = invoke(
        ["--database-url", db.url, "secrets", "rotate"], env={"SMMPANEL_SECRET_KEY": new}
    )
    assert "nothing to do" in again.stdout


def test_rotate_changes_nothing_when_a_value_cannot_be_read(db: Database) -> None:
    _store(db, SecretBox(OLD).seal("PROVIDER-KEY"), "PLAIN-SECRET")
    before = _raw(db, ALL_SECRETS)
    result = invoke(["--database-url", db.url, "secrets", "rotate"])  # OLD not given
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: provider key of providers row 1: a stored secret")
    after = _raw(db, ALL_SECRETS)
    assert after == before


def test_new_key_prints_a_fresh_valid_key() -> None:
    first, second = (invoke(["secrets", "new-key"]).stdout.strip() for _ in range(2))
    assert first != second
    assert SecretBox(first).open(SecretBox(first).seal("x")) == "x"


# --- without a key --------------------------------------------------------------------


NO_KEY = {"SMMPANEL_SECRET_KEY": ""}


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "1"],
        ["worker", "--once"],
        ["providers", "add", "up", "https://up.example/api/v2", "KEY-1"],
        ["users", "webhook", "alice", "https://shop.example/hook"],
        ["secrets", "rotate"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_commands_that_need_the_key_stop_without_it(db: Database, args: list[str]) -> None:
    make_customer(db)
    result = invoke(["--database-url", db.url, *args], env=NO_KEY)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: SMMPANEL_SECRET_KEY is not set: ")
    assert result.stderr.count("\n") == 1 and "`smmpanel secrets new-key`" in result.stderr
    bad = invoke(["--database-url", db.url, *args], env={"SMMPANEL_SECRET_KEY": "0123"})
    assert (bad.exit_code, bad.stderr.count("\n")) == (2, 1)
    assert "SMMPANEL_SECRET_KEY is not a valid key" in bad.stderr and "0123" not in bad.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_processes_refuse_to_start_without_a_key(
    tmp_path: Path, command: str
) -> None:
    env = smmpanel_env(f"sqlite:///{tmp_path / 'p.db'}")
    env.pop("SMMPANEL_SECRET_KEY", None)
    done = subprocess.run([*SMMPANEL, command], env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "Error: SMMPANEL_SECRET_KEY is not set: provider keys and webhook secrets are "
        "encrypted with it; make one with `smmpanel secrets new-key` and set it as "
        "SMMPANEL_SECRET_KEY (see docs/operations.md)\n"
    )


def test_the_demo_makes_its_own_key_and_allows_its_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env: dict[str, str | None] = {"SMMPANEL_SECRET_KEY": None, "SMMPANEL_ALLOW_PRIVATE_URLS": "0"}
    result = invoke(["demo", "--no-serve"], env=env)
    assert result.exit_code == 0, result.output
    db = Database(f"sqlite:///{tmp_path / 'smmpanel-demo.db'}")
    try:
        [(stored,)] = _raw(db, "SELECT api_key FROM providers")
    finally:
        db.dispose()
    assert str(stored).startswith("enc1:")
    with pytest.raises(SecretKeyError):  # an ephemeral key of its own, not the test key
        SecretBox(TEST_SECRET_KEY).open(str(stored))


# --- reading the provider key -----------------------------------------------------------


def _added_key(db: Database) -> str:
    with db.read() as session:
        return ProviderAccess.of(provider_by_name(session, "up")).api_key


@pytest.mark.parametrize(
    ("extra", "stdin", "env"),
    [
        (["--key-stdin"], "STDIN-KEY-123\n", {}),
        (["-"], "STDIN-KEY-123\n", {}),
        (["--key-env", "UP_KEY"], None, {"UP_KEY": "STDIN-KEY-123"}),
        (["STDIN-KEY-123"], None, {}),
    ],
    ids=["--key-stdin", "dash", "--key-env", "argument"],
)
def test_providers_add_reads_the_key_from_stdin_or_the_environment(
    db: Database, extra: list[str], stdin: str | None, env: dict[str, str]
) -> None:
    args = ["--database-url", db.url, "providers", "add", "up", "https://up.example/api/v2"]
    result = invoke([*args, *extra], input=stdin, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Provider up added (key STDI…).\n1\n"
    assert _added_key(db) == "STDIN-KEY-123"


@pytest.mark.parametrize(
    ("extra", "stdin", "message"),
    [
        ([], None, "give the provider's key once"),
        (["KEY", "--key-stdin"], "K2\n", "give the provider's key once"),
        (["--key-stdin", "--key-env", "UP_KEY"], "K2\n", "give the provider's key once"),
        (["--key-stdin"], "\n", "no key on standard input"),
        (["--key-env", "NOT_SET_ANYWHERE"], None, "NOT_SET_ANYWHERE is not set or empty"),
    ],
)
def test_providers_add_wants_exactly_one_key(
    db: Database, extra: list[str], stdin: str | None, message: str
) -> None:
    args = ["--database-url", db.url, "providers", "add", "up", "https://up.example/api/v2"]
    result = invoke([*args, *extra], input=stdin, env={"UP_KEY": "K3"})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr


# --- no secret in any output --------------------------------------------------------------


def test_no_command_prints_or_logs_a_secret(
    db: Database, sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    outputs: list[str] = []
    shown_once: dict[int, str] = {}  # output number -> the secret it creates and shows

    def run(*args: str, input: str | None = None, code: int = 0, shows: bool = False) -> str:
        result = invoke(["--database-url", db.url, *args], input=input)
        assert result.exit_code == code, result.output
        outputs.append(result.stdout + result.stderr)
        if shows:
            shown_once[len(outputs) - 1] = result.stdout.splitlines()[-1]
        return result.stdout

    run("providers", "add", "up", sim.api_url, "--key-stdin", input=sim.key + "\n")
    run("providers", "list")
    listed = run("providers", "list", "--json")
    run("providers", "import", "up", "--markup", "10")
    sim.control.add_fault("unreadable", count=3)
    run("providers", "sync-prices", "up", code=1)
    run("users", "add", "alice", shows=True)
    with running_target() as receiver:
        run("users", "webhook", "alice", f"{receiver.url}/hook", shows=True)
        run("users", "webhook", "alice", "--rotate-secret", shows=True)
        run("users", "webhook", "alice", f"{receiver.url}/other")
        run("users", "list", "--json")
        run("secrets", "rotate")
        run("worker", "--once")
    secrets = {sim.key, TEST_SECRET_KEY, *shown_once.values()}
    assert len(secrets) == 5
    for n, output in enumerate(outputs):
        for secret in secrets - {shown_once.get(n)}:
            assert secret not in output, (n, output)
        if n in shown_once:
            assert output.count(shown_once[n]) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(secret in logged for secret in secrets)
    assert json.loads(listed)[0]["key"] == f"{sim.key[:4]}…"


# --- file modes ----------------------------------------------------------------------------


def test_a_new_sqlite_database_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    import os

    previous = os.umask(0o022)  # the usual umask, which leaves files world-readable
    try:
        result = invoke(["--database-url", f"sqlite:///{tmp_path / 'p.db'}", "db", "upgrade"])
        assert result.exit_code == 0, result.output
        db = Database(f"sqlite:///{tmp_path / 'p.db'}")
        with db.write() as session:  # the -wal and -shm files exist while it is open
            session.execute(text("INSERT INTO settings (key, value) VALUES ('k', 'v')"))
            modes = {p.name: oct(p.stat().st_mode & 0o777) for p in sorted(tmp_path.iterdir())}
        db.dispose()
    finally:
        os.umask(previous)
    assert modes == {
        "p.db": "0o600",
        "p.db-shm": "0o600",
        "p.db-wal": "0o600",
        "p.db-writers": "0o600",  # the writers' turns (sqlite_turns.py)
    }
