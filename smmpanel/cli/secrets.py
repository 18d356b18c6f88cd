"""`smmpanel secrets ...`: the key that encrypts provider keys and webhook secrets."""

from typing import Annotated

import typer

from smmpanel.audit.models import Actor
from smmpanel.cli.common import DatabaseUrl, echo, open_panel
from smmpanel.config import current_settings
from smmpanel.secret_rotation import reencrypt_secrets
from smmpanel.secretbox import SecretBox, new_key

app = typer.Typer(
    help="The secret key that encrypts provider keys and webhook secrets (docs/operations.md).",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="secrets")


@app.command("new-key")
def new_key_command() -> None:
    """Print a new random key for SMMPANEL_SECRET_KEY (nothing is stored)."""
    echo(new_key())


@app.command("rotate")
def rotate(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; change nothing.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Encrypt every stored secret with SMMPANEL_SECRET_KEY: values stored in
    plain text before encryption existed, and values of the keys in
    SMMPANEL_SECRET_KEY_OLD (remove those keys afterwards)."""
    box = SecretBox.from_settings(current_settings())
    with open_panel(database_url) as db:
        report = reencrypt_secrets(db, box, dry_run=dry_run, actor=Actor.cli())
    for what, counts in report.columns.items():
        echo(
            f"{what}s: {counts.encrypted} encrypted (were plain), {counts.reencrypted} "
            f"re-encrypted (former key), {counts.current} already with the current key"
        )
    if dry_run:
        echo(f"dry run: {report.changed} would change")
    elif report.changed:
        echo(f"{report.changed} re-encrypted; SMMPANEL_SECRET_KEY_OLD is no longer needed")
    else:
        echo("nothing to do: every secret is encrypted with the current key")
