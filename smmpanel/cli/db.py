"""`smmpanel db ...`: create, migrate and inspect the schema."""

import typer

from smmpanel.cli.common import (
    DatabaseUrl,
    connect,
    echo,
    refuse_missing_sqlite_file,
    resolve_url,
    safe_url,
    schema_revisions,
)
from smmpanel.schema import upgrade_schema

app = typer.Typer(help="Create, migrate and inspect the database schema.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="db")


@app.command("upgrade")
def upgrade(database_url: DatabaseUrl = None) -> None:
    """Create the schema, or migrate it to this version of smmpanel (safe to repeat)."""
    url = resolve_url(database_url)
    db = connect(url)
    try:
        upgrade_schema(db)
        current, _heads = schema_revisions(db)
    finally:
        db.dispose()
    echo(f"database {safe_url(url)} is at revision {', '.join(sorted(current))}")


@app.command("status")
def status(database_url: DatabaseUrl = None) -> None:
    """Show the schema revision of the database; exit 1 when it needs `db upgrade`."""
    url = resolve_url(database_url)
    refuse_missing_sqlite_file(url)
    db = connect(url)
    try:
        current, heads = schema_revisions(db)
    finally:
        db.dispose()
    echo(f"database: {safe_url(url)}")
    echo(f"current:  {', '.join(sorted(current)) or '(no schema)'}")
    echo(f"expected: {', '.join(sorted(heads))}")
    if current != heads:
        echo("run `smmpanel db upgrade` to migrate")
        raise typer.Exit(code=1)
    echo("up to date")
