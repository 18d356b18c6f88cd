"""`smmpanel users ...`: accounts, their API keys, funds and options."""

from decimal import Decimal
from typing import Annotated, Any

import typer

from smmpanel.accounts.models import ACCOUNT_STATUSES, Account
from smmpanel.accounts.queries import AccountRow, list_accounts
from smmpanel.accounts.service import (
    account_by_username,
    create_account,
    rotate_api_key,
    set_account_options,
    set_rate_limit,
)
from smmpanel.audit.models import Actor
from smmpanel.catalog.pricing import set_custom_rate
from smmpanel.catalog.queries import list_services
from smmpanel.cli.common import (
    MAX_ID,
    BadValue,
    CliError,
    DatabaseUrl,
    JsonFlag,
    echo,
    emit_json,
    emit_table,
    on_off,
    open_panel,
    pick,
)
from smmpanel.db import Database
from smmpanel.ledger.errors import InsufficientFunds
from smmpanel.ledger.funding import fund_account, fund_amount_units
from smmpanel.money import format_units, parse_rate, to_units
from smmpanel.orders.account_currency import change_account_currency
from smmpanel.orders.queries import order_counts_by_account
from smmpanel.orders.webhooks import rotate_webhook_secret, set_webhook

app = typer.Typer(help="Customer accounts: create, fund, configure, list.", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The account's username.", show_default=False)]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")


def find_account(db: Database, username: str) -> Account:
    """The account (detached, loaded), or AccountNotFound."""
    with db.read() as session:
        return account_by_username(session, username)


@app.command("add")
def add(
    name: Name,
    email: Annotated[str | None, typer.Option("--email", help="Contact e-mail address.")] = None,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="Currency of the balance (default: the base currency)."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account; prints its API key (shown this once, stored hashed) last."""
    with open_panel(database_url) as db:
        account = create_account(
            db, username=name, email=email, currency=currency, actor=Actor.cli()
        )
        created = find_account(db, name)
    echo(f"created account {account.username} (id {account.id}, currency {created.currency})")
    echo("API key (shown only now; the panel stores a hash):")
    echo(account.api_key)


@app.command(
    "fund",
    # So that a negative AMOUNT such as -5 is read as the amount, not as an option.
    context_settings={"ignore_unknown_options": True},
)
def fund(
    name: Name,
    amount: Annotated[
        str,
        typer.Argument(
            help="Amount in the account's currency, e.g. 25 or 0.5; negative deducts.",
            show_default=False,
        ),
    ],
    note: Annotated[str, typer.Option("--note", help="Why (kept in the ledger).")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Add money to an account, or deduct it (never below zero)."""
    units = fund_amount_units(amount)  # a bad amount is refused before the database is opened
    with open_panel(database_url) as db:
        account = find_account(db, name)
        try:
            balance = fund_account(db, username=name, amount=amount, note=note, actor=Actor.cli())
        except InsufficientFunds:
            current = find_account(db, name)
            raise CliError(
                f"cannot deduct {format_units(-units)} {current.currency} from {name}: the "
                f"balance is {format_units(current.balance)} {current.currency} and never goes "
                f"below zero"
            ) from None
    sign = "+" if units > 0 else ""
    echo(
        f"{name}: {sign}{format_units(units)} {account.currency}, "
        f"balance {format_units(balance)} {account.currency}"
    )


def _parse_rates(specs: list[str]) -> list[tuple[int, Decimal | None]]:
    rates: list[tuple[int, Decimal | None]] = []
    for spec in specs:
        service, sep, rate = spec.partition("=")
        service = service.strip()
        if not sep or not (service.isascii() and service.isdigit()) or not rate.strip():
            raise BadValue(f"--rate takes SERVICE_ID=RATE (or SERVICE_ID=none), not {spec!r}")
        if not 1 <= int(service) <= MAX_ID:
            raise BadValue(f"a service id is 1 to {MAX_ID}, not {service}")
        value = (
            None
            if rate.strip().lower() == "none"
            else parse_rate(rate, what=f"the rate of {spec!r}")
        )
        rates.append((int(service), value))
    return rates


def _require_services(db: Database, service_ids: list[int]) -> None:
    """Check every service exists before changing anything."""
    known = {view.id for view in list_services(db, enabled_only=False)}
    missing = sorted(set(service_ids) - known)
    if missing:
        raise CliError(f"no service {', '.join(map(str, missing))}")


@app.command("set")
def set_options(
    name: Name,
    extended_fields: Annotated[
        bool | None,
        typer.Option(
            "--extended-fields/--no-extended-fields",
            help="Show the extended service fields (descriptions, translations) in `services`.",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="active or suspended (a suspended key is refused)."),
    ] = None,
    rate: Annotated[
        list[str] | None,
        typer.Option(
            "--rate",
            help="Own price per 1000 for a service, in the base currency: SERVICE_ID=RATE; "
            "RATE `none` removes it.  Repeatable.",
            metavar="SERVICE_ID=RATE",
        ),
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Contact e-mail address (empty removes it).")
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(
            "--rate-limit",
            help="API calls the account's key may make: N/s (N/minute, N/hour), `off` for "
            "none, or `default` for the panel's (docs/operations.md, Rate limits).",
            metavar="N/s|off|default",
        ),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency",
            help="Keep the balance in this currency from now on (one with a rate); only "
            "while the balance is zero and every order is final.",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change an account's options, status, e-mail, API rate limit, currency or custom
    service rates."""
    chosen_status = None if status is None else pick(status, ACCOUNT_STATUSES, "status")
    rates = _parse_rates(rate or [])
    nothing = extended_fields is None and status is None and email is None
    if nothing and not rates and rate_limit is None and currency is None:
        raise BadValue("nothing to change; give at least one option (see --help)")
    with open_panel(database_url) as db:
        find_account(db, name)
        _require_services(db, [service_id for service_id, _ in rates])
        if currency is not None:  # first: refused while money or orders are open
            change_account_currency(db, username=name, currency=currency, actor=Actor.cli())
        limit = None
        if rate_limit is not None:  # first: a bad value is refused before any change
            limit = set_rate_limit(db, username=name, rate_limit=rate_limit, actor=Actor.cli())
        set_account_options(
            db,
            username=name,
            extended_fields=extended_fields,
            status=chosen_status,
            email=email,
            actor=Actor.cli(),
        )
        for service_id, value in rates:
            set_custom_rate(db, username=name, service_id=service_id, rate=value, actor=Actor.cli())
    changes: list[str] = []
    if extended_fields is not None:
        changes.append(f"extended fields {on_off(extended_fields)}")
    if chosen_status is not None:
        changes.append(f"status {chosen_status}")
    if email is not None:
        changes.append(f"email {email or '(none)'}")
    if rate_limit is not None:
        changes.append(f"rate limit {limit or 'default'}")
    if currency is not None:
        changes.append(f"currency {currency.strip().upper()}")
    for service_id, value in rates:
        shown = "removed" if value is None else format_units(to_units(value))
        changes.append(f"rate for service {service_id} {shown}")
    echo(f"{name}: {'; '.join(changes)}")


@app.command("rotate-key")
def rotate_key(name: Name, database_url: DatabaseUrl = None) -> None:
    """Revoke the account's API keys and issue a new one; prints the new key last."""
    with open_panel(database_url) as db:
        key = rotate_api_key(db, username=name, actor=Actor.cli())
    echo(f"{name}: the old keys are revoked; new API key (shown only now):")
    echo(key)


@app.command("webhook")
def webhook(
    name: Name,
    url: Annotated[
        str | None, typer.Argument(help="The callback URL (http or https).", show_default=False)
    ] = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Remove the webhook and its secret.")
    ] = False,
    rotate: Annotated[
        bool, typer.Option("--rotate-secret", help="Replace the signing secret.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set, change or remove the account's order-status webhook (docs/webhooks.md).
    A new signing secret is printed alone on the last line, shown only now."""
    if remove + rotate + (url is not None) != 1:
        raise BadValue("give a URL, or --remove, or --rotate-secret")
    with open_panel(database_url) as db:
        if remove:
            set_webhook(db, username=name, url=None, actor=Actor.cli())
            echo(f"{name}: webhook removed")
            return
        secret = (
            rotate_webhook_secret(db, username=name, actor=Actor.cli())
            if rotate
            else set_webhook(db, username=name, url=url, actor=Actor.cli())
        )
    if secret is None:
        echo(f"{name}: webhook URL changed; the signing secret is unchanged")
        return
    echo(f"{name}: webhook set; signing secret (shown only now):")
    echo(secret)


def _account_json(row: AccountRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "username": row.username,
        "email": row.email,
        "status": row.status,
        "currency": row.currency,
        "balance": format_units(row.balance),
        "extended_fields": row.extended_fields,
        "key_prefix": row.key_prefix,
        "orders": row.orders,
        "rate_limit": row.rate_limit or "default",
    }


@app.command("list")
def list_users(as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """List the accounts with their balances."""
    with open_panel(database_url) as db:
        rows = list_accounts(db, order_counts=order_counts_by_account(db))
    if as_json:
        emit_json([_account_json(row) for row in rows])
        return
    emit_table(
        [
            "id",
            "username",
            "status",
            "currency",
            "balance",
            "extended",
            "key",
            "orders",
            "rate limit",
        ],
        (
            (
                r.id,
                r.username,
                r.status,
                r.currency,
                format_units(r.balance),
                on_off(r.extended_fields),
                f"{r.key_prefix}..." if r.key_prefix else "(none)",
                r.orders,
                r.rate_limit or "default",
            )
            for r in rows
        ),
        empty="no accounts yet; add one with `smmpanel users add NAME`",
    )
