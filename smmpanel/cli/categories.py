"""`smmpanel categories ...`: the order, names and translations of categories."""

from typing import Annotated

import typer

from smmpanel.audit.models import Actor
from smmpanel.catalog.categories import list_categories, update_category
from smmpanel.cli.common import (
    BadValue,
    DatabaseUrl,
    JsonFlag,
    echo,
    emit_json,
    emit_table,
    open_panel,
)

app = typer.Typer(help="Service categories: order, names, translations.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="categories")


@app.command("list")
def list_all(as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """List categories in catalog order."""
    with open_panel(database_url) as db:
        views = list_categories(db)
    if as_json:
        emit_json(
            [
                {
                    "id": v.id,
                    "name": v.name,
                    "position": v.position,
                    "services": v.services,
                    "translations": v.translations,
                }
                for v in views
            ]
        )
        return
    emit_table(
        ["id", "position", "name", "services", "translations"],
        (
            (
                v.id,
                v.position,
                v.name,
                v.services,
                ", ".join(f"{lang}: {text}" for lang, text in v.translations.items()),
            )
            for v in views
        ),
        title="Categories",
    )


@app.command("set")
def set_category(
    name: Annotated[str, typer.Argument(help="The category's current name.")],
    rename: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    position: Annotated[
        int | None, typer.Option("--position", help="Where it is listed (lower first).")
    ] = None,
    translations: Annotated[
        list[str] | None,
        typer.Option("--lang", help="LANG=TEXT translation, LANG= removes it (repeatable)."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Rename, move or translate a category."""
    parsed: dict[str, str | None] = {}
    for item in translations or []:
        lang, sep, text = item.partition("=")
        if not sep or not lang.strip():
            raise BadValue(f"--lang takes LANG=TEXT, not {item!r}")
        parsed[lang.strip()] = text or None
    if rename is None and position is None and not parsed:
        raise BadValue("nothing to change: give --name, --position or --lang")
    with open_panel(database_url) as db:
        update_category(
            db,
            name=name,
            new_name=rename,
            position=position,
            translations=parsed,
            actor=Actor.cli(),
        )
    echo(f"category {rename or name} updated")
