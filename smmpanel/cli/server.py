"""`smmpanel serve` and `smmpanel demo`: run the panel's web app with uvicorn."""

import json
import sys
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.accounts.service import create_account, fund_account, set_account_options
from smmpanel.api_v2.app import create_app
from smmpanel.catalog.models import Service
from smmpanel.catalog.service import import_catalog
from smmpanel.cli.common import (
    CliError,
    DatabaseUrl,
    echo,
    global_database_url,
    open_panel,
    safe_url,
    sqlite_path,
)
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.money import format_units

DEMO_FILE = "smmpanel-demo.db"
DEMO_USER = "demo"
DEMO_FUNDS = Decimal("100.00000")

Host = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
Port = Annotated[int, typer.Option("--port", help="TCP port to listen on.", min=1, max=65535)]


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
    root.command("demo")(demo)


def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    database_url: DatabaseUrl = None,
) -> None:
    """Migrate the database, then serve the panel (the /api/v2 endpoint) with uvicorn."""
    settings = Settings()
    with open_panel(database_url, migrate=True) as db:
        echo(f"smmpanel: database {safe_url(db.url)}")
        echo(f"smmpanel: serving {_base_url(host, port)}/api/v2 (Ctrl+C stops)")
        _run(db, host, port, settings)


def demo(
    port: Port = 8000,
    host: Host = "127.0.0.1",
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", help="Serve the demo panel after setting it up (the default)."
        ),
    ] = True,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=(
                f"Put the demo in this database, which must be empty. Without it the demo "
                f"uses {DEMO_FILE} in the current directory, deleted and recreated each "
                f"time (SMMPANEL_DATABASE_URL is not used, so a demo never touches your "
                f"real panel)."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set up a fresh demo panel (reference catalog, a funded account) and serve it."""
    # The environment's database is not used: a demo never touches the real panel.
    url = database_url or global_database_url()
    if url is None:
        url = _fresh_demo_file()
    settings = Settings()
    with open_panel(url, migrate=True) as db:
        _require_empty(db)
        key = _seed(db)
        base = _base_url(host, port)
        _print_welcome(db, base, key)
        if serve:
            _run(db, host, port, settings)


def _run(db: Database, host: str, port: int, settings: Settings) -> None:
    app = create_app(db, max_body=settings.max_body_bytes)
    sys.stdout.flush()  # the key and URLs reach a pipe before the server blocks
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


def _base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _fresh_demo_file() -> str:
    path = Path.cwd() / DEMO_FILE
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _require_empty(db: Database) -> None:
    with db.read() as session:
        accounts = session.scalar(select(func.count(Account.id))) or 0
        services = session.scalar(select(func.count(Service.id))) or 0
    if accounts or services:
        where = sqlite_path(db.url) or safe_url(db.url)
        raise CliError(
            f"the demo needs an empty database, and {where} has {accounts} account(s) and "
            f"{services} service(s); use another database, or run `smmpanel demo` without "
            f"--database-url to use {DEMO_FILE}"
        )


def reference_catalog() -> list[Mapping[str, Any]]:
    """The example `services` answer of the API reference, shipped with smmpanel."""
    text = resources.files("smmpanel").joinpath("data/reference_catalog.json").read_text("utf-8")
    entries: list[Mapping[str, Any]] = json.loads(text, parse_float=Decimal)
    return entries


def _seed(db: Database) -> str:
    import_catalog(db, entries=reference_catalog())
    account = create_account(db, username=DEMO_USER)
    fund_account(db, username=DEMO_USER, amount=DEMO_FUNDS, note="demo funds")
    # Show the reference's extended fields (descriptions, translations) too.
    set_account_options(db, username=DEMO_USER, extended_fields=True)
    return account.api_key


def _print_welcome(db: Database, base: str, key: str) -> None:
    api = f"{base}/api/v2"
    with db.read() as session:
        balance, currency = session.execute(
            select(Account.balance, Account.currency).where(Account.username == DEMO_USER)
        ).one()
    echo("smmpanel demo is ready")
    echo(f"  database: {safe_url(db.url)}")
    echo(f"  panel:    {base}")
    echo(f"  API:      {api}")
    echo(f"  account:  {DEMO_USER}, balance {format_units(balance)} {currency}")
    echo()
    echo("List the services:")
    echo(f"  curl -s {api} -d key={key} -d action=services")
    echo("Place an order (100 followers, service 1):")
    echo(
        f"  curl -s {api} -d key={key} -d action=add -d service=1 "
        f"-d link=https://instagram.com/smmpanel_demo -d quantity=100"
    )
    echo("Check the order and the balance:")
    echo(f"  curl -s {api} -d key={key} -d action=status -d order=1")
    echo(f"  curl -s {api} -d key={key} -d action=balance")
    echo()
    echo("API key of the demo account:")
    echo(key)
