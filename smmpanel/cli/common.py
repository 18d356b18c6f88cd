"""What every command shares: the database it works on, error handling, output.

Output rules (scripts rely on them):

- a command that creates something prints the new id or key alone on its last
  line of standard output;
- lists print a rich table, or with ``--json`` plain JSON (money as strings with
  5 places);
- a refused request prints one ``Error: ...`` line on standard error and exits 1;
  a bad value (not a number, out of range, too many decimal places, an unknown
  choice), wrong usage or a missing or wrong secret key exits 2, like click's
  own usage errors.
"""

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from typer.core import TyperGroup

from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.errors import DomainError, InvalidValue
from smmpanel.schema import database_revisions, expected_revisions, upgrade_schema
from smmpanel.secretbox import SecretKeyError
from smmpanel.timeutil import as_utc

UPGRADE_HINT = "run `smmpanel db upgrade`"
PIPE_WIDTH = 240
REFUSED = 1  # the panel refused: unknown account, not enough balance, no schema...
BAD_VALUE = 2  # the command cannot be run as given: a bad value, wrong usage

# Ids are 32-bit columns: a larger number is a bad value, not a database error.
MAX_ID = 2**31 - 1
# Counts of units (an order's start count and remains).
MAX_COUNT = 10**15
# Rows a list shows at most.
MAX_LIMIT = 1_000_000


class CliError(Exception):
    """A refusal found by the command line itself (no such order, no schema...)."""


class BadValue(CliError):
    """A value or combination of options the command cannot take (exit 2)."""


# --- the root group: one place that turns refusals into "Error: ..." --------------


class PanelGroup(TyperGroup):
    """The root command group.  Every sub-command runs inside its ``invoke``, so
    errors raised anywhere below become one ``Error:`` line, never a traceback:
    exit 2 for a bad value (an InvalidValue of the domain, a BadValue here, an
    option click cannot convert), exit 1 for a refusal.  Sub-apps added later
    get the same treatment for free."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            # A missing argument keeps the usage text, which says best what is missing
            # (MissingParameter is a BadParameter; typer does not export it by name).
            if type(exc).__name__ == "MissingParameter":
                raise
            fail_now(exc.format_message(), code=BAD_VALUE)
        except (BadValue, InvalidValue) as exc:
            fail_now(str(exc) or exc.__class__.__name__, code=BAD_VALUE)
        except (CliError, DomainError) as exc:
            fail_now(str(exc) or exc.__class__.__name__)
        except SecretKeyError as exc:
            fail_now(str(exc), code=BAD_VALUE)
        except OperationalError as exc:
            fail_now(f"database error: {_first_line(str(exc.orig or exc))}")


def fail_now(message: str, *, code: int = REFUSED) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with `code` (1: refused)."""
    typer.echo(f"Error: {_one_line(message)}", err=True)
    raise typer.Exit(code=code)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


# --- the database -----------------------------------------------------------------


@dataclass(frozen=True)
class CliState:
    """Options of the root command, for the sub-commands."""

    database_url: str | None = None


# Set by the root command's callback on every invocation, read by sub-commands.
_state: ContextVar[CliState | None] = ContextVar("smmpanel_cli_state", default=None)


def set_state(state: CliState) -> None:
    _state.set(state)


def global_database_url() -> str | None:
    """The root command's --database-url, if it was given."""
    state = _state.get()
    return None if state is None else state.database_url


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database to use (overrides the global option and SMMPANEL_DATABASE_URL).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Limit = Annotated[
    int,
    typer.Option("--limit", help="Show at most this many (newest first).", min=1, max=MAX_LIMIT),
]


def resolve_url(database_url: str | None = None) -> str:
    """The command's --database-url, else the global one, else the environment
    (read afresh each time, so tests can switch it)."""
    return database_url or global_database_url() or Settings().database_url


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


# The databases smmpanel runs on, as URL schemes (postgres:// means postgresql://).
SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def check_url(url: str) -> str:
    """The URL, if it names a database smmpanel supports; else BadValue (before
    any driver is loaded: an unknown one would fail with an import error)."""
    try:
        scheme = make_url(url).drivername
    except ArgumentError:
        scheme = None
    if scheme not in SUPPORTED_SCHEMES:
        raise BadValue(
            f"unsupported database URL {safe_url(url)!r}: use sqlite:///FILE or "
            "postgresql://USER@HOST/DBNAME (schemes: sqlite, postgresql, postgresql+psycopg)"
        )
    return url


def connect(url: str) -> Database:
    try:
        return Database(check_url(url))
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise BadValue(f"cannot use database URL {safe_url(url)!r}: {exc}") from None


@contextmanager
def open_panel(database_url: str | None = None, *, migrate: bool = False) -> Iterator[Database]:
    """The panel's database, checked to be migrated (or migrated, with `migrate`)."""
    url = check_url(resolve_url(database_url))
    if not migrate:
        refuse_missing_sqlite_file(url)
    db = connect(url)
    try:
        if migrate:
            upgrade_schema(db)
        else:
            require_schema(db)
        yield db
    finally:
        db.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def refuse_missing_sqlite_file(url: str) -> None:
    # Opening a missing SQLite file would create an empty one; say what to do instead.
    path = sqlite_path(url)
    if path is not None and str(path) != ":memory:" and not path.exists():
        raise CliError(f"no database at {path}; {UPGRADE_HINT} to create it")


def schema_revisions(db: Database) -> tuple[set[str], set[str]]:
    """(the database's current revisions, the revisions this smmpanel expects)."""
    with db.read_core() as connection:
        current = database_revisions(connection)
    return set(current), set(expected_revisions())


def require_schema(db: Database) -> None:
    current, heads = schema_revisions(db)
    if not current:
        raise CliError(f"the database {safe_url(db.url)} has no smmpanel schema; {UPGRADE_HINT}")
    if current != heads:
        raise CliError(
            f"the database schema is at {', '.join(sorted(current))} but this smmpanel "
            f"expects {', '.join(sorted(heads))}; {UPGRADE_HINT}"
        )


# --- values -----------------------------------------------------------------------


def pick(value: str, choices: Sequence[str], what: str) -> str:
    """`value` matched case-insensitively (spaces trimmed) against `choices`."""
    wanted = " ".join(value.split()).lower()
    for choice in choices:
        if choice.lower() == wanted:
            return choice
    raise BadValue(f"unknown {what} {value!r}; one of: {', '.join(choices)}")


def seconds(low: float, high: float) -> Callable[[Any], float]:
    """A parser (typer's ``parser=``) of a finite number of seconds from `low` to
    `high` (a float range would let NaN through: every comparison with it is
    false); a bad value is a usage error."""

    def parse(value: Any) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and low <= number <= high):
            raise typer.BadParameter(f"a number of seconds from {low:g} to {high:g}, not {value!r}")
        return number

    return parse


def id_argument(help: str) -> Any:
    """A positional id: 1 to MAX_ID."""
    return typer.Argument(help=help, show_default=False, min=1, max=MAX_ID)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat(timespec="seconds")


def short_time(moment: datetime | None) -> str:
    """A timestamp for tables: UTC, to the minute."""
    return "" if moment is None else as_utc(moment).strftime("%Y-%m-%d %H:%M")


def on_off(flag: bool) -> str:
    return "on" if flag else "off"


# --- output -----------------------------------------------------------------------


def console() -> Console:
    """A fresh console per call, so COLUMNS and the captured stdout of tests apply.
    Into a pipe or a file (no terminal, no COLUMNS) tables keep their natural
    width instead of being folded to 80 columns, which suits grep and less."""
    width = None
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        width = PIPE_WIDTH
    return Console(highlight=False, width=width)


def echo(text: str = "") -> None:
    """A plain line on stdout: no markup, no wrapping (safe to copy and paste)."""
    typer.echo(text)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    fold: Sequence[str] = (),
) -> None:
    """A table; cells are shown as plain text (never read as rich markup).  When
    `fold` names columns, those wrap first in a narrow terminal; a value is
    folded onto more lines when space runs out, never cut short."""
    materialised = list(rows)
    if not materialised:
        echo(empty)
        return
    out = console()
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False
    )
    cells = [[Text("" if cell is None else str(cell)) for cell in row] for row in materialised]
    for name, (least, exact) in zip(columns, _widths(columns, cells, fold, out.width), strict=True):
        table.add_column(name, overflow="fold", min_width=least, width=exact)
    for row in cells:
        table.add_row(*row)
    out.print(table)


COLUMN_GAP = 3  # padding, divider, padding


def _widths(
    columns: Sequence[str], cells: list[list[Text]], fold: Sequence[str], width: int
) -> list[tuple[int | None, int | None]]:
    """(min_width, width) per column.  Columns outside `fold` keep their widest
    value on one line and the `fold` columns share what is left, when that fits;
    otherwise rich folds cells as it sees fit.  (Minimums wider than the screen
    make rich cut the table's right edge off; a value must never be cut short.)"""
    free: list[tuple[int | None, int | None]] = [(None, None)] * len(columns)
    if not fold:
        return free
    widest = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    folding = [i for i, name in enumerate(columns) if name in fold]
    fixed = sum(w for i, w in enumerate(widest) if i not in folding)
    share = (width - fixed - COLUMN_GAP * (len(columns) - 1)) // max(len(folding), 1)
    if any(share < len(columns[i]) for i in folding):
        return free
    return [
        (None, min(widest[i], share)) if i in folding else (widest[i], None)
        for i in range(len(columns))
    ]
