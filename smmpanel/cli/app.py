"""The `smmpanel` command: the root app, its global options, and the one place
where every group of commands is registered.

The modules of this package do not use ``from __future__ import annotations``:
typer reads every command's annotations each time the command line starts, and
evaluating them from strings made that about four times slower (measured).
"""

import gc
from types import ModuleType
from typing import Annotated

import typer

from smmpanel import __version__
from smmpanel.cli import (
    audit,
    categories,
    db,
    fulfilment,
    ledger,
    logins,
    orders,
    panel,
    payments,
    providers,
    requests,
    secrets,
    server,
    services,
    site,
    staff,
    tickets,
    users,
)
from smmpanel.cli.common import CliState, PanelGroup, set_state

# Each module adds its commands with `register(root)`; a new group of commands
# (worker, providers, ...) is one more module in this tuple.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    db,
    server,
    users,
    logins,
    panel,
    services,
    categories,
    orders,
    requests,
    ledger,
    payments,
    providers,
    fulfilment,
    secrets,
    audit,
    tickets,
    site,
    staff,
)

app = typer.Typer(
    name="smmpanel",
    cls=PanelGroup,
    help="Administer a self-hosted SMM panel: accounts, catalog, orders, money, server.",
    epilog="The database comes from --database-url or SMMPANEL_DATABASE_URL "
    "(default sqlite:///smmpanel.db).",
    no_args_is_help=True,
    # Never print local variables in a traceback: they can hold keys and passwords.
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"smmpanel {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database URL, e.g. sqlite:///smmpanel.db or postgresql://user@host/db "
            "(default: SMMPANEL_DATABASE_URL).",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Administer a self-hosted SMM panel: accounts, catalog, orders, money, server."""
    set_state(CliState(database_url=database_url))


for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    # The ~150,000 objects of the imports live until the command ends: kept out of
    # every garbage collection, and out of the one at exit, which took ~0.4 s of
    # each run of the command line (measured; `serve` freezes its app again).
    gc.freeze()
    app()
