"""The root command: version, help, choosing and checking the database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smmpanel import __version__
from smmpanel.db import Database
from tests.cli.conftest import Run, invoke, last_line


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"smmpanel {__version__}"


def test_help_lists_every_group() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for group in (
        "serve",
        "demo",
        "db",
        "users",
        "currencies",
        "settings",
        "services",
        "orders",
        "refills",
        "cancels",
        "ledger",
    ):
        assert group in result.stdout


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    yield " ".join(path) or "smmpanel", command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_and_option_has_help() -> None:
    from typer.main import get_command

    from smmpanel.cli import app

    commands = list(_commands(get_command(app)))
    assert len(commands) > 30
    for path, command in commands:
        assert command.help, f"no help for {path}"
        for param in command.params:
            if param.name in ("help", "install_completion", "show_completion"):
                continue
            assert getattr(param, "help", None), f"no help for {param.name} of {path}"


def test_missing_sqlite_file_hints_at_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    result = invoke(["--database-url", f"sqlite:///{path}", "users", "list"])
    assert result.exit_code == 1
    assert "smmpanel db upgrade" in result.stderr
    assert not path.exists(), "a read must not create an empty database file"


def test_unmigrated_database_hints_at_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    result = invoke(["--database-url", f"sqlite:///{path}", "services", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "no smmpanel schema; run `smmpanel db upgrade`" in result.stderr
    assert "Traceback" not in result.output


def test_db_upgrade_then_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    status = invoke(["db", "status", "--database-url", url])
    assert status.exit_code == 1  # no file yet
    upgraded = invoke(["db", "upgrade", "--database-url", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert "is at revision" in upgraded.stdout
    status = invoke(["db", "status", "--database-url", url])
    assert status.exit_code == 0
    assert "up to date" in status.stdout
    again = invoke(["db", "upgrade", "--database-url", url])  # repeating is harmless
    assert again.exit_code == 0
    listed = invoke(["users", "list", "--database-url", url])
    assert listed.exit_code == 0
    assert "no accounts yet" in listed.stdout


def test_environment_chooses_the_database(db: Database) -> None:
    made = invoke(["users", "add", "envuser"], env={"SMMPANEL_DATABASE_URL": db.url})
    assert made.exit_code == 0, made.output
    listed = invoke(["users", "list", "--json"], env={"SMMPANEL_DATABASE_URL": db.url})
    assert [row["username"] for row in json.loads(listed.stdout)] == ["envuser"]


def test_command_option_overrides_the_global_one(db: Database, tmp_path: Path) -> None:
    elsewhere = f"sqlite:///{tmp_path / 'absent.db'}"
    result = invoke(["--database-url", elsewhere, "users", "add", "bob", "--database-url", db.url])
    assert result.exit_code == 0, result.output
    assert len(last_line(result)) >= 40


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdb://x/y",
        "mysql://user:hunter2@host/db",
        "foo://",
        "postgresql+psycopg2://h/d",
        "x",
    ],
)
def test_unsupported_database_url_is_one_line_naming_the_schemes(url: str) -> None:
    """`mysql://...` printed a traceback (its driver is not installed)."""
    for args in (
        ["--database-url", url, "users", "list"],
        ["db", "upgrade", "--database-url", url],
    ):
        result = invoke(args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: unsupported database URL"), result.stderr
        assert "sqlite, postgresql" in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert "Traceback" not in result.output
        assert "hunter2" not in result.output


def test_unreachable_postgres_is_a_clean_error() -> None:
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    result = invoke(["--database-url", url, "users", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: database error:")
    assert "Traceback" not in result.output


def test_run_fixture_sees_errors(run: Run) -> None:
    result = run("users", "fund", "nobody", "5", ok=False)
    assert result.stderr.strip() == "Error: no account 'nobody'"
