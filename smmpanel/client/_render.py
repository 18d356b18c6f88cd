"""Output of the ``smm`` command line: JSON on stdout, rich tables, a progress bar on stderr."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ._ops import MAX_IDS
from ._ops import Progress as ProgressCallback
from .models import (
    CancelResult,
    CancelStatusResult,
    OrderStatusResult,
    RefillResult,
    RefillStatusResult,
    Service,
)


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def print_json(data: object) -> None:
    """JSON on stdout; money (Decimal) as strings."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_default))


def _cell(value: object) -> Text:
    """A table cell, never read as rich markup (service names contain brackets)."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    return Text(str(value))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    _stdout().print(table)


def print_line(text: str) -> None:
    _stdout().print(Text(text))


def _stdout() -> Console:
    """The stdout console; wide when piped, so that tables keep one line per row."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=160)
    return console


def service_rows(services: Sequence[Service]) -> list[list[object]]:
    return [
        [
            s.service,
            s.name,
            str(s.type),
            s.category,
            s.rate,
            s.min,
            s.max,
            s.dripfeed,
            s.refill,
            s.cancel,
        ]
        for s in services
    ]


@contextmanager
def progress_for(total: int, title: str) -> Iterator[ProgressCallback | None]:
    """A progress bar on stderr when more than one call is needed, else nothing."""
    if total <= MAX_IDS:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(title, total=total)

        def advance(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        yield advance


def _error(result: Any) -> str | None:
    return None if result.error is None else f"{result.error.message} [{result.error.code}]"


@dataclass(frozen=True)
class View:
    """How the results of one multi-id command look in a table."""

    title: str
    columns: tuple[str, ...]
    row: Callable[[Any], list[object]]


def _status_row(r: OrderStatusResult) -> list[object]:
    return [r.order_id, r.status, r.charge, r.start_count, r.remains, r.currency, _error(r)]


def _refill_row(r: RefillResult) -> list[object]:
    return [r.order_id, r.refill_id, _error(r)]


def _refill_status_row(r: RefillStatusResult) -> list[object]:
    return [r.refill_id, r.status, _error(r)]


def _cancel_row(r: CancelResult) -> list[object]:
    return [r.order_id, r.type, r.cancel_id, _error(r)]


def _cancel_status_row(r: CancelStatusResult) -> list[object]:
    return [r.cancel_id, r.status, _error(r)]


VIEWS: dict[str, View] = {
    "status": View(
        "Order status",
        ("Order", "Status", "Charge", "Start count", "Remains", "Currency", "Error"),
        _status_row,
    ),
    "refill": View("Refill requests", ("Order", "Refill", "Error"), _refill_row),
    "refill-status": View("Refill status", ("Refill", "Status", "Error"), _refill_status_row),
    "cancel": View("Cancel requests", ("Order", "Type", "Cancel", "Error"), _cancel_row),
    "cancel-status": View("Cancel status", ("Cancel", "Status", "Error"), _cancel_status_row),
}
