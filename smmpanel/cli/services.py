"""`smmpanel services ...`: the catalog - add, change, import, export, list."""

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from smmpanel.audit.models import Actor
from smmpanel.catalog.entries import service_entry
from smmpanel.catalog.queries import ServiceView, list_services
from smmpanel.catalog.service import ServiceSpec, create_service, import_catalog, update_service
from smmpanel.catalog.types import TYPE_NAMES, service_type
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
    on_off,
    open_panel,
)
from smmpanel.money import format_units

app = typer.Typer(help="The service catalog.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="services")


ServiceId = Annotated[int, id_argument("The service id.")]
TYPE_HELP = f"Service type: {', '.join(TYPE_NAMES)}."


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="Name shown to customers.")],
    category: Annotated[str, typer.Option("--category", help="Category (created if new).")],
    rate: Annotated[
        str, typer.Option("--rate", help="Price per 1000 in the base currency, e.g. 0.90.")
    ],
    min_quantity: Annotated[int, typer.Option("--min", help="Smallest quantity per order.")],
    max_quantity: Annotated[int, typer.Option("--max", help="Largest quantity per order.")],
    type_: Annotated[str, typer.Option("--type", help=TYPE_HELP)] = "Default",
    dripfeed: Annotated[bool, typer.Option("--dripfeed", help="Allow drip-feed.")] = False,
    refill: Annotated[bool, typer.Option("--refill", help="Allow refill requests.")] = False,
    refill_days: Annotated[
        int | None,
        typer.Option("--refill-days", help="Refill window in days (default: the panel's).", min=1),
    ] = None,
    cancel: Annotated[bool, typer.Option("--cancel", help="Allow cancel requests.")] = False,
    no_link: Annotated[
        bool, typer.Option("--no-link", help="Orders take no link (quantity only).")
    ] = False,
    description: Annotated[str, typer.Option("--description", help="Description.")] = "",
    disabled: Annotated[
        bool, typer.Option("--disabled", help="Create it disabled (hidden from customers).")
    ] = False,
    service_id: Annotated[
        int | None, typer.Option("--id", help="Wanted id (must be free).", min=1, max=MAX_ID)
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a service; prints its id last."""
    spec = ServiceSpec(
        name=name,
        type=type_,
        category=category,
        rate=rate,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        dripfeed=dripfeed,
        refill=refill,
        refill_days=refill_days,
        cancel=cancel,
        link_required=not no_link,
        enabled=not disabled,
        description=description,
    )
    with open_panel(database_url) as db:
        new_id = create_service(db, spec=spec, service_id=service_id, actor=Actor.cli())
    echo(f"created service {new_id}: {name.strip()} ({service_type(type_).name}, {category})")
    echo(str(new_id))


def _refill_days(value: str) -> int | None:
    text = value.strip()
    if text.lower() in ("default", "none", ""):
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise BadValue("--refill-days takes a number of days (at least 1) or `default`")
    return int(text)


@app.command("set")
def set_fields(
    service_id: ServiceId,
    enabled: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Show or hide it.", show_default=False),
    ] = None,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Price per 1000 in the base currency.")
    ] = None,
    min_quantity: Annotated[
        int | None, typer.Option("--min", help="Smallest quantity per order.")
    ] = None,
    max_quantity: Annotated[
        int | None, typer.Option("--max", help="Largest quantity per order.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help=TYPE_HELP)] = None,
    category: Annotated[str | None, typer.Option("--category", help="Category.")] = None,
    dripfeed: Annotated[
        bool | None, typer.Option("--dripfeed/--no-dripfeed", help="Allow drip-feed.")
    ] = None,
    refill: Annotated[
        bool | None, typer.Option("--refill/--no-refill", help="Allow refill requests.")
    ] = None,
    refill_days: Annotated[
        str | None,
        typer.Option("--refill-days", help="Refill window in days, or `default` (the panel's)."),
    ] = None,
    cancel: Annotated[
        bool | None, typer.Option("--cancel/--no-cancel", help="Allow cancel requests.")
    ] = None,
    link: Annotated[
        bool | None, typer.Option("--link/--no-link", help="Whether orders need a link.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="Description.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Change some fields of a service."""
    given: dict[str, Any] = {
        "enabled": enabled,
        "rate": rate,
        "min_quantity": min_quantity,
        "max_quantity": max_quantity,
        "name": name,
        "type": type_,
        "category": category,
        "dripfeed": dripfeed,
        "refill": refill,
        "cancel": cancel,
        "link_required": link,
        "description": description,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if refill_days is not None:
        changes["refill_days"] = _refill_days(refill_days)
    if not changes:
        raise BadValue("nothing to change; give at least one option (see --help)")
    with open_panel(database_url) as db:
        update_service(db, service_id=service_id, changes=changes, actor=Actor.cli())
    shown = ", ".join(f"{key}={_shown(value)}" for key, value in changes.items())
    echo(f"service {service_id}: {shown}")


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return on_off(value)
    return "default" if value is None else str(value)


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON array in the format of the `services` answer (ours or another "
            "panel's); `-` reads standard input.",
            show_default=False,
        ),
    ],
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Import services, all or nothing: free ids are kept, a service with the same
    id, name and type is updated, others get new ids."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        entries = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # ValueError: also ints past 4300 digits
        raise BadValue(f"{file} is not valid JSON: {exc}") from None
    with open_panel(database_url) as db:
        report = import_catalog(db, entries=entries, actor=Actor.cli())
    if as_json:
        emit_json(
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "renumbered": {str(k): v for k, v in report.renumbered.items()},
            }
        )
        return
    echo(f"created: {len(report.created)} {_ids(report.created)}".rstrip())
    echo(f"updated: {len(report.updated)} {_ids(report.updated)}".rstrip())
    echo(f"unchanged: {len(report.unchanged)} {_ids(report.unchanged)}".rstrip())
    moved = ", ".join(f"{wanted}->{given}" for wanted, given in report.renumbered.items())
    echo(f"renumbered: {len(report.renumbered)} {f'({moved})' if moved else ''}".rstrip())


def _ids(ids: list[int]) -> str:
    return f"({', '.join(map(str, ids))})" if ids else ""


def export_entry(view: ServiceView) -> dict[str, Any]:
    """One service in the `services` answer's format with every extended field,
    plus what an import needs to recreate it exactly."""
    return {
        **service_entry(view, extended=True),
        "refill_days": view.refill_days,
        "link_required": view.link_required,
        "enabled": view.enabled,
    }


@app.command("export")
def export(
    file: Annotated[
        Path | None,
        typer.Argument(help="Write here (default: standard output).", show_default=False),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export every service (disabled ones too) in the base currency, for `services import`."""
    with open_panel(database_url) as db:
        views = list_services(db, enabled_only=False, with_translations=True)
    text = json.dumps([export_entry(v) for v in views], indent=2, ensure_ascii=False) + "\n"
    if file is None or str(file) == "-":
        sys.stdout.write(text)
        return
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {file}: {exc.strerror or exc}") from None
    echo(f"exported {len(views)} services to {file}")


def _list_entry(view: ServiceView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "type": view.type,
        "category": view.category,
        "rate": format_units(view.rate),
        "min": view.min_quantity,
        "max": view.max_quantity,
        "dripfeed": view.dripfeed,
        "refill": view.refill,
        "refill_days": view.refill_days,
        "cancel": view.cancel,
        "link_required": view.link_required,
        "enabled": view.enabled,
    }


@app.command("list")
def list_all(as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """List every service (disabled ones too), priced in the base currency."""
    with open_panel(database_url) as db:
        views = list_services(db, enabled_only=False)
    if as_json:
        emit_json([_list_entry(v) for v in views])
        return
    emit_table(
        ["id", "name", "type", "category", "rate/1000", "min", "max", "options", "enabled"],
        (
            (
                v.id,
                v.name,
                v.type,
                v.category,
                format_units(v.rate),
                v.min_quantity,
                v.max_quantity,
                _options(v),
                "yes" if v.enabled else "no",
            )
            for v in views
        ),
        empty="no services yet; add one with `smmpanel services add` or `services import`",
        fold=("name", "type", "category", "options"),
    )


def _options(view: ServiceView) -> str:
    flags = [
        "dripfeed" if view.dripfeed else "",
        (f"refill {view.refill_days}d" if view.refill_days else "refill") if view.refill else "",
        "cancel" if view.cancel else "",
        "" if view.link_required else "no link",
    ]
    return ", ".join(flag for flag in flags if flag)
