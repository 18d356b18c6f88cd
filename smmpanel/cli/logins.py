"""`smmpanel users reset-link NAME` and `smmpanel users 2fa-off NAME`: a
customer's web login, from the owner's side."""

from datetime import timedelta
from typing import Annotated

import typer

from smmpanel.accounts.passwords import issue_reset_token
from smmpanel.accounts.two_factor import turn_off_two_factor
from smmpanel.audit.models import Actor
from smmpanel.cli import users
from smmpanel.cli.common import DatabaseUrl, echo, open_panel
from smmpanel.config import Settings
from smmpanel.web.links import reset_link as link_of


def register(_root: typer.Typer) -> None:
    users.app.command("reset-link")(reset_link)
    users.app.command("2fa-off")(two_factor_off)


def reset_link(
    name: users.Name,
    hours: Annotated[
        int, typer.Option("--hours", help="Hours the link stays valid.", min=1, max=24 * 14)
    ] = 24,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a one-time link that sets the account's password on the web (for an
    account made here, or a customer who forgot theirs).  It works once, until it
    expires; the panel keeps only its hash.  The address is SMMPANEL_PUBLIC_URL's."""
    with open_panel(database_url) as db:
        token = issue_reset_token(db, username=name, ttl=timedelta(hours=hours), actor=Actor.cli())
    echo(f"One-time password link for {name} (valid {hours} h; send it to the customer):")
    echo(link_of(Settings(), token))


def two_factor_off(name: users.Name, database_url: DatabaseUrl = None) -> None:
    """Turn two-factor authentication off for a customer who lost the device
    (audited); the customer logs in with the password alone and may set it up again."""
    with open_panel(database_url) as db:
        was_on = turn_off_two_factor(db, username=name, actor=Actor.cli())
    if was_on:
        echo(f"two-factor authentication turned off for {name}")
    else:
        echo(f"two-factor authentication was not on for {name}; nothing changed")
