"""`smmpanel providers ...`, `smmpanel services map` and `smmpanel alerts ...`:
upstream panels, which of them back a service, and what the owner must see."""

import os
import re
import sys
from decimal import Decimal
from typing import Annotated, Any

import typer
from sqlalchemy import select

from smmpanel.audit.models import Actor
from smmpanel.catalog.models import ServiceSource
from smmpanel.cli.common import (
    MAX_ID,
    BadValue,
    CliError,
    DatabaseUrl,
    JsonFlag,
    echo,
    emit_json,
    emit_table,
    id_argument,
    iso,
    open_panel,
    seconds,
)
from smmpanel.cli.services import app as services_app
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.money import format_units, parse_exact, parse_rate
from smmpanel.panel.alerts import resolve_alert
from smmpanel.panel.models import Alert
from smmpanel.providers.catalog_sync import (
    fetch_provider_balance,
    import_provider_services,
    sync_prices,
)
from smmpanel.providers.gateway import mask_key, masked_stored_key
from smmpanel.providers.models import Provider
from smmpanel.providers.reconcile import (
    adopt_upstream_order,
    cancel_unforwarded_order,
    reconcile_orders,
)
from smmpanel.providers.service import (
    METHODS,
    add_provider,
    edit_provider,
    map_service,
    set_provider_status,
    unmap_service,
)

app = typer.Typer(help="Upstream provider panels.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts for the owner (paused providers, stale orders, ...).")

ProviderName = Annotated[str, typer.Argument(help="The provider's name.", show_default=False)]
ServiceId = Annotated[int, id_argument("The local service id.")]
# A markup of more than 100 times the cost is a typo, not a price.
MAX_MARKUP_PERCENT = Decimal(10_000)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="providers")
    root.add_typer(alerts_app, name="alerts")
    services_app.command("map")(map_command)
    services_app.command("unmap")(unmap_command)


@app.command("add")
def add(
    name: ProviderName,
    url: Annotated[str, typer.Argument(help="API URL, like https://panel.example/api/v2.")],
    key: Annotated[
        str | None,
        typer.Argument(
            help="Your API key at that panel, or - to read it from standard input "
            '(one starting with "-" goes after "--"). Prefer --key-stdin or --key-env: '
            "an argument shows in `ps` and in the shell's history.",
            show_default=False,
        ),
    ] = None,
    key_stdin: Annotated[
        bool,
        typer.Option("--key-stdin", help="Read the key from standard input (its first line)."),
    ] = False,
    key_env: Annotated[
        str | None,
        typer.Option(
            "--key-env",
            metavar="NAME",
            help="Read the key from the environment variable NAME.",
            show_default=False,
        ),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="post, json or get.")] = "post",
    request_id: Annotated[
        bool,
        typer.Option(
            "--request-id",
            help="The upstream honours request_id (another smmpanel): interrupted sends "
            "are resent safely.",
        ),
    ] = False,
    lookup_url: Annotated[
        str | None,
        typer.Option(
            "--lookup-url",
            help="An order look-up URL on the provider's own host, used by reconciliation.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds per call.", parser=seconds(0.1, 600)),
    ] = 20.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Register an upstream panel; prints its id.  The key is stored encrypted
    (SMMPANEL_SECRET_KEY) and never printed in full."""
    if method not in METHODS:
        raise BadValue(f"--method is one of {', '.join(METHODS)}")
    secret = _provider_key(key, key_stdin=key_stdin, key_env=key_env)
    dialect: dict[str, Any] = {"timeout": timeout}
    if request_id:
        dialect["request_id"] = True
    if lookup_url:
        dialect["lookup_url"] = lookup_url
    with open_panel(database_url) as db:
        provider_id = add_provider(
            db,
            name=name,
            api_url=url,
            api_key=secret,
            method=method,
            dialect=dialect,
            actor=Actor.cli(),
        )
    echo(f"Provider {name} added (key {mask_key(secret)}).")
    echo(str(provider_id))


def _provider_key(argument: str | None, *, key_stdin: bool, key_env: str | None) -> str:
    """The key from exactly one of: the argument, standard input (``-`` or
    --key-stdin), or the environment variable named by --key-env."""
    from_stdin = key_stdin or argument == "-"
    given = sum((argument is not None and argument != "-", from_stdin, key_env is not None))
    if given != 1:
        raise CliError("give the provider's key once: as KEY, - or --key-stdin, or --key-env NAME")
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise CliError("no key on standard input")
        return line.strip()
    if key_env is not None:
        # The variable the owner named on purpose, read once here; not a setting.
        value = os.environ.get(key_env, "").strip()
        if not value:
            raise CliError(f"the environment variable {key_env} is not set or empty")
        return value
    assert argument is not None
    return argument


@app.command("edit")
def edit(
    name: ProviderName,
    url: Annotated[str | None, typer.Option("--url", help="A new API URL.")] = None,
    method: Annotated[str | None, typer.Option("--method", help="post, json or get.")] = None,
    request_id: Annotated[
        bool | None,
        typer.Option("--request-id/--no-request-id", help="The upstream honours request_id."),
    ] = None,
    lookup_url: Annotated[
        str | None,
        typer.Option("--lookup-url", help='An order look-up URL on its host ("" removes it).'),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds per call.", parser=seconds(0.1, 600)),
    ] = None,
    key_stdin: Annotated[
        bool, typer.Option("--key-stdin", help="Replace the key: read it from standard input.")
    ] = False,
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", metavar="NAME", help="Replace the key: read it from NAME."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change a provider's URL, method or options, or replace its key (the old
    key is never shown); what is not given is kept."""
    if method is not None and method not in METHODS:
        raise BadValue(f"--method is one of {', '.join(METHODS)}")
    secret = None
    if key_stdin or key_env is not None:
        secret = _provider_key(None, key_stdin=key_stdin, key_env=key_env)
    dialect: dict[str, Any] = {}
    if request_id is not None:
        dialect["request_id"] = request_id or None
    if lookup_url is not None:
        dialect["lookup_url"] = lookup_url.strip()
    if timeout is not None:
        dialect["timeout"] = timeout
    with open_panel(database_url) as db:
        edit_provider(
            db,
            name=name,
            api_url=url,
            method=method,
            dialect=dialect,
            api_key=secret,
            actor=Actor.cli(),
        )
    echo(f"Provider {name} changed" + (f" (key {mask_key(secret)})." if secret else "."))


@app.command("list")
def list_providers(
    balances: Annotated[
        bool, typer.Option("--balances/--no-balances", help="Ask each provider its balance.")
    ] = True,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List providers with their status and balance (keys are never shown in full)."""
    with open_panel(database_url) as db:
        names = _names(db)
        problems: dict[str, str] = {}
        if balances:
            for name in names:
                try:
                    fetch_provider_balance(db, provider_name=name)
                except DomainError as exc:
                    problems[name] = str(exc)
        rows = _provider_rows(db, problems)
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["id", "name", "url", "key", "status", "balance", "services", "note"],
        (
            (
                r["id"],
                r["name"],
                r["url"],
                r["key"],
                r["status"],
                r["balance"] or "",
                r["services"],
                r["note"],
            )
            for r in rows
        ),
        title="Providers",
    )


def _names(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Provider.name).order_by(Provider.id)))


def _provider_rows(db: Database, problems: dict[str, str]) -> list[dict[str, Any]]:
    with db.read() as session:
        providers = session.scalars(select(Provider).order_by(Provider.id)).all()
        sources = session.scalars(select(ServiceSource)).all()
    counts: dict[int, int] = {}
    for source in sources:
        counts[source.provider_id] = counts.get(source.provider_id, 0) + 1
    return [
        {
            "id": p.id,
            "name": p.name,
            "url": p.api_url,
            "key": masked_stored_key(p.api_key),
            "method": p.method,
            "status": p.status,
            "balance": None if p.balance is None else f"{format_units(p.balance)} {p.currency}",
            "balance_checked_at": iso(p.balance_checked_at),
            "services": counts.get(p.id, 0),
            "note": problems.get(p.name) or p.paused_reason,
        }
        for p in providers
    ]


@app.command("import")
def import_services(
    name: ProviderName,
    markup: Annotated[str, typer.Option("--markup", help="Percent added, e.g. 25%.")] = "0",
    fixed: Annotated[str, typer.Option("--fixed", help="Amount added per 1000.")] = "0",
    round_places: Annotated[
        int, typer.Option("--round", help="Decimals the price is rounded up to.", min=0, max=5)
    ] = 2,
    category: Annotated[
        str | None, typer.Option("--category", help="Only this upstream category.")
    ] = None,
    upstream_ids: Annotated[
        list[str] | None, typer.Option("--service", help="Only this upstream id (repeatable).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import the provider's services into the catalog with a markup."""
    percent, fixed_amount = _percent(markup), _fixed(fixed)
    with open_panel(database_url) as db:
        result = import_provider_services(
            db,
            provider_name=name,
            markup_percent=percent,
            markup_fixed=fixed_amount,
            round_places=round_places,
            category=category,
            upstream_ids=upstream_ids or None,
            actor=Actor.cli(),
        )
    emit_table(
        ["service", "upstream", "name", "cost", "price"],
        (
            (c.service_id, c.upstream_id, c.name, str(c.upstream_rate), str(c.rate))
            for c in result.created
        ),
        title=f"Imported from {name}",
    )
    echo(
        f"{len(result.created)} imported, {len(result.already_imported)} already imported, "
        f"{len(result.failed)} failed, {len(result.not_found)} not found."
    )
    for upstream_id, why in result.failed.items():
        echo(f"  upstream {upstream_id}: {why}")


@app.command("sync-prices")
def sync_prices_command(
    name: Annotated[str | None, typer.Argument(help="Only this provider.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Re-read upstream catalogs, re-price marked-up services, disable vanished ones."""
    with open_panel(database_url) as db:
        report = sync_prices(db, provider_name=name, actor=Actor.cli())
    echo(report.summary())
    for change in report.changed:
        echo(f"  service {change.id}: {change.old_rate} -> {change.new_rate}")
    for service_id in report.disabled:
        echo(f"  service {service_id}: disabled (upstream service gone)")
    for provider, why in report.errors.items():
        echo(f"  {provider}: {why}")


_ADOPT = re.compile(r"^\s*(\d+)\s*=\s*(\S+)\s*$")


@app.command("reconcile")
def reconcile(
    name: Annotated[str | None, typer.Argument(help="Only this provider's orders.")] = None,
    adopt: Annotated[
        list[str] | None,
        typer.Option("--adopt", help="ORDER=UPSTREAM_ID: the upstream has it (repeatable)."),
    ] = None,
    cancel: Annotated[
        list[int] | None,
        typer.Option(
            "--cancel", help="ORDER: the upstream surely has none; refund it.", min=1, max=MAX_ID
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Resolve orders whose forwarding outcome is unknown."""
    adoptions = [_adoption(pair) for pair in adopt or []]
    with open_panel(database_url) as db:
        for found in adoptions:
            adopt_upstream_order(
                db, order_id=int(found[1]), upstream_order_id=found[2], actor=Actor.cli()
            )
            echo(f"order {found[1]}: adopted upstream order {found[2]}")
        for order_id in cancel or []:
            cancel_unforwarded_order(
                db, order_id=order_id, why="the owner found no upstream order", actor=Actor.cli()
            )
            echo(f"order {order_id}: canceled and refunded")
        report = reconcile_orders(db, provider_name=name)
    echo(
        f"{len(report.adopted)} adopted, {len(report.canceled)} canceled, "
        f"{len(report.resent)} resent, {len(report.waiting)} waiting for you"
    )
    if report.waiting:
        echo("waiting: " + ", ".join(str(i) for i in report.waiting))


@app.command("pause")
def pause(name: ProviderName, database_url: DatabaseUrl = None) -> None:
    """Stop forwarding to this provider (orders wait)."""
    with open_panel(database_url) as db:
        set_provider_status(db, name=name, active=False, actor=Actor.cli())
    echo(f"{name} paused")


@app.command("resume")
def resume(name: ProviderName, database_url: DatabaseUrl = None) -> None:
    """Forward to this provider again (e.g. after topping it up); orders waiting
    for it are sent at once."""
    with open_panel(database_url) as db:
        woken = set_provider_status(db, name=name, active=True, actor=Actor.cli())
    echo(f"{name} resumed; {woken} waiting orders are sent now")


def _adoption(pair: str) -> re.Match[str]:
    found = _ADOPT.match(pair)
    if not found or not 1 <= int(found[1]) <= MAX_ID:
        raise BadValue(f"--adopt takes ORDER=UPSTREAM_ID, not {pair!r}")
    return found


# --markup and --fixed are checked before anything is asked of a provider: a
# bad value is the owner's typo, refused with exit 2.


def _percent(text: str) -> Decimal:
    """--markup: "25" or "25%", 0 to MAX_MARKUP_PERCENT, at most 5 decimals."""
    value = text.strip().removesuffix("%")
    return parse_exact(value, what="--markup", low=Decimal(0), high=MAX_MARKUP_PERCENT)


def _fixed(text: str) -> Decimal:
    """--fixed: an amount per 1000 in the base currency, like a rate."""
    return parse_rate(text, what="--fixed")


def map_command(
    service_id: ServiceId,
    provider: Annotated[str, typer.Option("--provider", help="The provider's name.")],
    upstream_service: Annotated[
        str, typer.Option("--upstream-service", help="The service id at the provider.")
    ],
    priority: Annotated[
        int | None,
        typer.Option("--priority", help="1 is tried first (default: last).", min=1, max=1000),
    ] = None,
    markup: Annotated[
        str | None,
        typer.Option("--markup", help="Percent over cost kept in sync (default: price by hand)."),
    ] = None,
    fixed: Annotated[str, typer.Option("--fixed", help="Amount added per 1000.")] = "0",
    round_places: Annotated[
        int, typer.Option("--round", help="Decimals the price is rounded up to.", min=0, max=5)
    ] = 2,
    database_url: DatabaseUrl = None,
) -> None:
    """Forward a service's orders to an upstream service (several in priority order)."""
    percent = None if markup is None else _percent(markup)
    fixed_amount = _fixed(fixed)
    with open_panel(database_url) as db:
        given = map_service(
            db,
            service_id=service_id,
            provider_name=provider,
            upstream_service_id=upstream_service,
            priority=priority,
            markup_percent=percent,
            markup_fixed=fixed_amount,
            round_places=round_places,
            actor=Actor.cli(),
        )
    echo(f"service {service_id} -> {provider} service {upstream_service}, priority {given}")


def unmap_command(
    service_id: ServiceId,
    provider: Annotated[str, typer.Option("--provider", help="The provider's name.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Stop forwarding a service to one provider."""
    with open_panel(database_url) as db:
        removed = unmap_service(
            db, service_id=service_id, provider_name=provider, actor=Actor.cli()
        )
    if not removed:
        raise CliError(f"service {service_id} is not mapped to {provider}")
    echo(f"service {service_id} no longer forwarded to {provider}")


@alerts_app.command("list")
def list_alerts(
    show_all: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Alerts for the owner, newest first."""
    query = select(Alert).order_by(Alert.id.desc())
    if not show_all:
        query = query.where(Alert.resolved_at.is_(None))
    with open_panel(database_url) as db, db.read() as session:
        alerts = session.scalars(query).all()
    rows = [
        {
            "id": a.id,
            "kind": a.kind,
            "subject": a.subject,
            "message": a.message,
            "created_at": iso(a.created_at),
            "resolved_at": iso(a.resolved_at),
        }
        for a in alerts
    ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["id", "kind", "subject", "message", "at"],
        ((r["id"], r["kind"], r["subject"], r["message"], r["created_at"]) for r in rows),
        title="Alerts",
    )


@alerts_app.command("resolve")
def resolve_alert_command(
    alert_id: Annotated[int, id_argument("The alert id.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Mark an alert as dealt with."""
    with open_panel(database_url) as db:
        if not resolve_alert(db, alert_id=alert_id, actor=Actor.cli()):
            raise CliError(f"no alert {alert_id}")
    echo(f"alert {alert_id} resolved")
