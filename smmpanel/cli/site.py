"""`smmpanel site ...`: the texts and the logo of the panel's public pages."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from smmpanel.audit.models import Actor
from smmpanel.cli.common import BadValue, DatabaseUrl, echo, open_panel
from smmpanel.panel.site import (
    MAX_LOGO_BYTES,
    MAX_TEXT,
    TEXT_KEYS,
    clear_logo,
    set_logo,
    set_site_text,
    site_text,
)

app = typer.Typer(help="The public pages' texts (terms, home) and logo.", no_args_is_help=True)
Key = Annotated[
    str,
    typer.Argument(
        help="Which text: " + "; ".join(f"{k} ({v})" for k, v in TEXT_KEYS.items()) + ".",
        show_default=False,
    ),
]
Language = Annotated[
    str,
    typer.Option(
        "--language",
        help="The text for pages in this language (en or ru); without it, the text "
        "shown where a page's language has none of its own.",
    ),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="site")


@app.command("set-text")
def set_text(
    key: Key,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Read the text from this UTF-8 file (else standard input)."),
    ] = None,
    language: Language = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Set a page's text from a file or standard input; an empty text removes it.
    Blank lines separate paragraphs; the text is shown as text, never as HTML."""
    text = _read_text(file)
    with open_panel(database_url) as db:
        length = set_site_text(db, key=key, text=text, language=language, actor=Actor.cli())
    shown = language or "default"
    echo(f"{key} ({shown}): {length:,} characters" if length else f"{key} ({shown}): removed")


@app.command("show-text")
def show_text(key: Key, language: Language = "", database_url: DatabaseUrl = None) -> None:
    """Print the text a page in LANGUAGE shows (its own, else the default one)."""
    if key not in TEXT_KEYS:
        raise BadValue(f"unknown text {key!r}; known: {', '.join(sorted(TEXT_KEYS))}")
    with open_panel(database_url) as db, db.read() as session:
        text = site_text(session, key, language.strip().lower())
    echo(text)


@app.command("set-logo")
def set_logo_command(
    image: Annotated[Path, typer.Argument(help="A PNG, JPEG or GIF file of at most 256 KiB.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Show IMAGE beside the panel's name on every page."""
    try:
        with image.open("rb") as source:
            data = source.read(MAX_LOGO_BYTES + 1)
    except OSError as exc:
        raise BadValue(f"cannot read {image}: {exc.strerror or exc}") from None
    with open_panel(database_url) as db:
        logo = set_logo(db, data=data, actor=Actor.cli())
    echo(f"logo set: {logo.content_type}, {len(logo.data):,} bytes")


@app.command("clear-logo")
def clear_logo_command(database_url: DatabaseUrl = None) -> None:
    """Show the panel's name alone again."""
    with open_panel(database_url) as db:
        removed = clear_logo(db, actor=Actor.cli())
    echo("logo removed" if removed else "no logo was set")


def _read_text(file: Path | None) -> str:
    """At most a character past the limit, so that the domain refuses a too long
    text by its rule instead of this reading a wrong file whole."""
    if file is None:
        return sys.stdin.read(MAX_TEXT + 1)
    try:
        with file.open(encoding="utf-8") as source:
            return source.read(MAX_TEXT + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise BadValue(f"cannot read {file}: {exc}") from None
