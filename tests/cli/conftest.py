"""Running the `smmpanel` command in-process against the test's database."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest
from typer.testing import CliRunner, Result

from smmpanel.cli import app
from smmpanel.db import Database

Run = Callable[..., Result]


def invoke(
    args: Sequence[str], *, input: str | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """Run `smmpanel ARGS`; wide COLUMNS so table cells stay on one line."""
    runner = CliRunner()
    return runner.invoke(app, list(args), input=input, env={"COLUMNS": "200", **(env or {})})


def make_run(db: Database) -> Run:
    """`run("users", "list")` runs `smmpanel --database-url <test db> users list`;
    `ok=False` expects exit code 1 (a refusal) instead of 0, `code=2` a bad value.
    A failing command must print one `Error: ...` line and no traceback."""

    def _run(
        *args: str, ok: bool = True, code: int | None = None, input: str | None = None
    ) -> Result:
        result = invoke(["--database-url", db.url, *args], input=input)
        expected = code if code is not None else 0 if ok else 1
        assert result.exit_code == expected, (
            f"exit {result.exit_code}, wanted {expected}\nstdout:\n{result.stdout}\n"
            f"stderr:\n{result.stderr}\nexception: {result.exception!r}"
        )
        if expected:
            assert result.stderr.startswith("Error: "), result.stderr
            assert len(result.stderr.splitlines()) == 1, result.stderr
            assert "Traceback" not in result.output
        return result

    return _run


@pytest.fixture
def run(db: Database) -> Run:
    """`make_run` over the test's database."""
    return make_run(db)


def last_line(result: Result) -> str:
    """The last line of standard output, where created ids and keys go."""
    lines = result.stdout.strip().splitlines()
    assert lines, "no output"
    return lines[-1]
