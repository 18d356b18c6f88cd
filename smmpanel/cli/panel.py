"""`smmpanel currencies ...` and `smmpanel settings ...`: panel-wide configuration."""

from typing import Annotated

import typer
from sqlalchemy import select

from smmpanel.accounts.models import Currency
from smmpanel.accounts.service import set_currency_rate
from smmpanel.audit.models import Actor
from smmpanel.catalog.pricing import set_base_currency
from smmpanel.cli.common import (
    DatabaseUrl,
    JsonFlag,
    echo,
    emit_json,
    emit_table,
    iso,
    open_panel,
    short_time,
)
from smmpanel.db import Database
from smmpanel.money import plain_decimal
from smmpanel.panel.settings import (
    CHOICE_KEYS,
    DEFAULTS,
    INTEGER_KEYS,
    INTERNAL_KEYS,
    change_setting,
    get_setting,
)

currencies = typer.Typer(
    help="Currencies accounts can hold, and their exchange rates.", no_args_is_help=True
)
settings = typer.Typer(help="Panel-wide settings kept in the database.", no_args_is_help=True)

Code = Annotated[str, typer.Argument(help="Currency code, e.g. EUR.", show_default=False)]


def register(root: typer.Typer) -> None:
    root.add_typer(currencies, name="currencies")
    root.add_typer(settings, name="settings")


def base_currency(db: Database) -> str:
    with db.read() as session:
        return get_setting(session, "base_currency")


@currencies.command(
    "set",
    # So that a bad RATE such as -1 is refused as a rate, not as an unknown option.
    context_settings={"ignore_unknown_options": True},
)
def currency_set(
    code: Code,
    rate: Annotated[
        str,
        typer.Argument(help="Units of CODE that 1 unit of the base currency buys.", metavar="RATE"),
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Add a currency or change its exchange rate (balances keep their amounts)."""
    with open_panel(database_url) as db:
        value = set_currency_rate(db, code=code, rate=rate, actor=Actor.cli())
        base = base_currency(db)
    echo(f"1 {base} = {plain_decimal(value)} {code.strip().upper()}")


@currencies.command("list")
def currency_list(as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """List the currencies and their rates against the base currency."""
    with open_panel(database_url) as db:
        base = base_currency(db)
        with db.read() as session:
            rows = list(session.scalars(select(Currency).order_by(Currency.code)))
    if as_json:
        emit_json(
            [
                {
                    "code": c.code,
                    "rate": c.rate,
                    "base": c.code == base,
                    "updated_at": iso(c.updated_at),
                }
                for c in rows
            ]
        )
        return
    emit_table(
        ["code", f"per 1 {base}", "base", "updated"],
        ((c.code, c.rate, "yes" if c.code == base else "", short_time(c.updated_at)) for c in rows),
        empty="no currencies",
    )


@currencies.command("base")
def currency_base(code: Code, database_url: DatabaseUrl = None) -> None:
    """Choose the base currency (only on a panel without accounts and services)."""
    with open_panel(database_url) as db:
        set_base_currency(db, code=code, actor=Actor.cli())
        base = base_currency(db)
    echo(f"base currency: {base}")


_VALUES_HELP = "; ".join(
    [f"{key}: {'|'.join(choices)}" for key, choices in CHOICE_KEYS.items()]
    + [f"{key}: {low} to {high}" for key, (low, high) in INTEGER_KEYS.items()]
)


@settings.command("set", context_settings={"ignore_unknown_options": True})
def setting_set(
    key: Annotated[
        str,
        typer.Argument(
            help=f"One of: {', '.join(sorted(set(DEFAULTS) - INTERNAL_KEYS))}.",
            show_default=False,
        ),
    ],
    value: Annotated[str, typer.Argument(help=_VALUES_HELP, show_default=False)],
    database_url: DatabaseUrl = None,
) -> None:
    """Change a panel setting."""
    with open_panel(database_url) as db:
        stored_key, stored = change_setting(db, key=key.strip(), value=value, actor=Actor.cli())
    echo(f"{stored_key} = {stored}")


@settings.command("list")
def setting_list(as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """Show every panel setting with its current value."""
    with open_panel(database_url) as db, db.read() as session:
        values = {key: get_setting(session, key) for key in sorted(DEFAULTS)}
    if as_json:
        emit_json(values)
        return
    emit_table(
        ["setting", "value", "default", "changed with"],
        (
            (
                key,
                value,
                DEFAULTS[key],
                "smmpanel currencies base" if key in INTERNAL_KEYS else "smmpanel settings set",
            )
            for key, value in values.items()
        ),
    )
