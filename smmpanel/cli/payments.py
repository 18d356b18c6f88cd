"""`smmpanel gateways ...` and `smmpanel deposits ...`: the payment gateways'
setup, and the deposits customers make through them."""

import os
import sys
from typing import Annotated, Any

import typer

from smmpanel.audit.models import Actor
from smmpanel.cli.common import (
    BadValue,
    CliError,
    DatabaseUrl,
    JsonFlag,
    Limit,
    echo,
    emit_json,
    emit_table,
    id_argument,
    iso,
    open_panel,
    short_time,
)
from smmpanel.cli.users import find_account
from smmpanel.money import format_units, plain_decimal
from smmpanel.payments.crediting import DepositOutcome
from smmpanel.payments.gateway import GatewayUnavailable
from smmpanel.payments.queries import (
    DepositRow,
    DepositView,
    GatewayRow,
    deposit_view,
    list_deposits,
    list_gateways,
)
from smmpanel.payments.service import (
    approve_deposit,
    check_deposit,
    reject_deposit,
)
from smmpanel.payments.setup import configure_gateway, disable_gateway, enable_gateway
from smmpanel.payments.states import DepositState

gateways_app = typer.Typer(
    help="Payment gateways customers add funds through.", no_args_is_help=True
)
deposits_app = typer.Typer(
    help="Deposits: money customers add through a gateway.", no_args_is_help=True
)

Code = Annotated[str, typer.Argument(help="The gateway's code (see `gateways list`).")]
DepositId = Annotated[int, id_argument("The deposit's id.")]
STATES = tuple(state.value for state in DepositState)


def register(root: typer.Typer) -> None:
    root.add_typer(gateways_app, name="gateways")
    root.add_typer(deposits_app, name="deposits")


# --- gateways -----------------------------------------------------------------------


@gateways_app.command("list")
def list_command(as_json: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """List the installed gateways and their setup (secrets only as set / not set)."""
    with open_panel(database_url) as db, db.read() as session:
        rows = [_gateway_json(row) for row in list_gateways(session)]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        ["code", "title", "enabled", "currency", "limits", "bonus", "settings", "note"],
        (
            (
                r["code"],
                r["title"],
                "yes" if r["enabled"] else "no",
                r["currency"],
                f"{r['min']} - {r['max']}" if r["installed"] else "",
                r["bonus"],
                " ".join(f"{k}={v}" for k, v in r["settings"].items()),
                _note(r),
            )
            for r in rows
        ),
        empty="no payment gateways installed",
        fold=("settings", "note"),
    )


def _gateway_json(row: GatewayRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "title": row.title,
        "installed": row.installed,
        "enabled": row.enabled,
        "manual": row.manual,
        "demo_only": row.demo_only,
        "currency": row.currency,
        "min": plain_decimal(row.min_amount),
        "max": plain_decimal(row.max_amount),
        "bonus": ", ".join(str(rule) for rule in row.bonus),
        "settings": row.settings,
        "missing": row.missing,
    }


def _note(row: dict[str, Any]) -> str:
    notes = []
    if not row["installed"]:
        notes.append("not installed")
    if row["demo_only"]:
        notes.append("demo mode only")
    if row["missing"]:
        notes.append(f"needs {', '.join(row['missing'])}")
    return "; ".join(notes)


@gateways_app.command("enable")
def enable(code: Code, database_url: DatabaseUrl = None) -> None:
    """Offer the gateway on the add-funds page (its required settings must be set)."""
    with open_panel(database_url) as db:
        enable_gateway(db, code=code, actor=Actor.cli())
    echo(f"Gateway {code} enabled.")


@gateways_app.command("disable")
def disable(code: Code, database_url: DatabaseUrl = None) -> None:
    """Stop offering the gateway; payments already started are still credited."""
    with open_panel(database_url) as db:
        disable_gateway(db, code=code, actor=Actor.cli())
    echo(f"Gateway {code} disabled.")


@gateways_app.command("set")
def set_command(
    code: Code,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="NAME=VALUE settings (NAME= clears one).  NAME=- reads a secret from "
            "standard input; prefer it, or --from-env, to a secret on the command line.",
            show_default=False,
        ),
    ] = None,
    from_env: Annotated[
        list[str] | None,
        typer.Option(
            "--from-env",
            metavar="NAME=VARIABLE",
            help="Read setting NAME from the environment variable VARIABLE (repeatable).",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set a gateway's settings: its own (`gateways list` shows them) and
    currency, min, max, bonus (like 100:5,500:10) and title."""
    settings = _settings(values or [], from_env or [])
    with open_panel(database_url) as db:
        configure_gateway(db, code=code, values=settings, actor=Actor.cli())
    echo(f"Gateway {code}: {', '.join(settings)} set.")


def _settings(values: list[str], from_env: list[str]) -> dict[str, str]:
    """NAME=VALUE pairs, with `-` read from standard input and --from-env from
    the environment (the variable the owner named, read once: not a setting)."""
    settings: dict[str, str] = {}
    stdin_used = False
    for pair in [*values, *(f"\0{item}" for item in from_env)]:
        env = pair.startswith("\0")
        name, equals, value = pair.lstrip("\0").partition("=")
        name = name.strip()
        if not equals or not name:
            raise BadValue(f"settings are NAME=VALUE, not {pair.lstrip(chr(0))[:40]!r}")
        if name in settings:
            raise BadValue(f"{name} is given twice")
        if env:
            value = os.environ.get(value.strip(), "")
            if not value.strip():
                raise CliError(f"the environment variable for {name} is not set or empty")
        elif value == "-":
            if stdin_used:
                raise BadValue("only one setting can be read from standard input")
            stdin_used, value = True, sys.stdin.readline().strip()
            if not value:
                raise CliError(f"no value for {name} on standard input")
        settings[name] = value
    if not settings:
        raise BadValue("give at least one NAME=VALUE")
    return settings


# --- deposits -----------------------------------------------------------------------


@deposits_app.command("list")
def list_deposits_command(
    state: Annotated[
        str | None,
        typer.Option("--state", help=f"Only deposits in this state: {', '.join(STATES)}."),
    ] = None,
    gateway: Annotated[str | None, typer.Option("--gateway", help="Only this gateway's.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this account's.")] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List deposits, newest first."""
    if state is not None and state.strip().lower() not in STATES:
        raise BadValue(f"unknown state {state[:20]!r}; one of: {', '.join(STATES)}")
    with open_panel(database_url) as db:
        account_id = None if user is None else find_account(db, user).id
        with db.read() as session:
            rows = list_deposits(
                session,
                state=None if state is None else state.strip().lower(),
                gateway=gateway,
                account_id=account_id,
                limit=limit,
            )
    if as_json:
        emit_json([_deposit_json(row) for row in rows])
        return
    emit_table(
        ["id", "ref", "at", "user", "gateway", "amount", "credit", "state", "owed"],
        (
            (
                r.id,
                r.reference,
                short_time(r.created_at),
                r.username,
                r.gateway,
                f"{format_units(r.amount)} {r.currency}",
                _credit_text(r),
                r.state,
                f"{format_units(r.owed_amount)} {r.account_currency}" if r.owed_amount else "",
            )
            for r in rows
        ),
        empty="no deposits",
    )


def _credit_text(row: DepositRow) -> str:
    text = f"{format_units(row.credit_amount)} {row.account_currency}"
    return f"{text} +{format_units(row.bonus_amount)}" if row.bonus_amount else text


def _deposit_json(row: DepositRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "reference": row.reference,
        "user": row.username,
        "gateway": row.gateway,
        "amount": format_units(row.amount),
        "currency": row.currency,
        "credit": format_units(row.credit_amount),
        "bonus": format_units(row.bonus_amount),
        "account_currency": row.account_currency,
        "state": row.state,
        "external_id": row.external_id,
        "owed": format_units(row.owed_amount),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "paid_at": iso(row.paid_at),
    }


@deposits_app.command("show")
def show(
    deposit_id: DepositId, as_json: JsonFlag = False, database_url: DatabaseUrl = None
) -> None:
    """One deposit with its history (the gateways' raw payloads stay in the database)."""
    with open_panel(database_url) as db, db.read() as session:
        view = deposit_view(session, deposit_id=deposit_id)
    if view is None:
        raise CliError(f"no deposit {deposit_id}")
    data = _view_json(view)
    if as_json:
        emit_json(data)
        return
    for key in ("reference", "user", "gateway", "state", "external_id", "created_at", "paid_at"):
        echo(f"{key}: {data[key] if data[key] is not None else ''}")
    echo(f"amount: {data['amount']} {data['currency']}")
    echo(f"credit: {data['credit']} {data['account_currency']} (bonus {data['bonus']})")
    if data["paid_amount"] is not None:
        echo(f"paid: {data['paid_amount']} {data['paid_currency'] or ''}")
    if view.deposit.owed_amount:
        echo(f"owed: {data['owed']} {data['account_currency']}")
    emit_table(
        ["at", "kind", "from", "to", "by", "event", "note"],
        (
            (e["at"], e["kind"], e["from"] or "", e["to"], e["actor"], e["event"] or "", e["note"])
            for e in data["events"]
        ),
        title="History",
        fold=("note", "event"),
    )


def _view_json(view: DepositView) -> dict[str, Any]:
    return {
        **_deposit_json(view.deposit),
        "paid_amount": None if view.paid_amount is None else format_units(view.paid_amount),
        "paid_currency": view.paid_currency,
        "redirect_url": view.redirect_url,
        "instructions": view.instructions,
        "events": [
            {
                "at": iso(e.created_at),
                "kind": e.kind,
                "from": e.from_state,
                "to": e.to_state,
                "actor": e.actor,
                "event": e.gateway_event_id,
                "note": e.note,
            }
            for e in view.events
        ],
    }


@deposits_app.command("approve")
def approve(
    deposit_id: DepositId,
    note: Annotated[str, typer.Option("--note", help="Why (kept in the history).")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Credit a manual transfer that arrived, or a held payment (its amount as made)."""
    with open_panel(database_url) as db:
        outcome = approve_deposit(db, deposit_id=deposit_id, actor=Actor.cli(), note=note)
    echo(f"Deposit {deposit_id} approved: {format_units(outcome.credited)} credited.")


@deposits_app.command("reject")
def reject(
    deposit_id: DepositId,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Close a manual transfer that never came, or a held payment: nothing is credited."""
    with open_panel(database_url) as db:
        reject_deposit(db, deposit_id=deposit_id, actor=Actor.cli(), reason=reason)
    echo(f"Deposit {deposit_id} rejected.")


@deposits_app.command("check")
def check(deposit_id: DepositId, database_url: DatabaseUrl = None) -> None:
    """Ask the gateway where the deposit's payment stands, and apply the answer."""
    with open_panel(database_url) as db:
        try:
            outcome = check_deposit(db, deposit_id=deposit_id, actor=Actor.cli())
        except GatewayUnavailable as exc:
            raise CliError(f"the gateway could not be asked: {exc}") from None
    echo(f"Deposit {deposit_id}: {outcome.state} ({_said(outcome)}).")


def _said(outcome: DepositOutcome) -> str:
    if outcome.result == "credited":
        return f"{format_units(outcome.credited)} credited"
    if outcome.result == "reversed":
        return f"{format_units(outcome.debited)} taken back, {format_units(outcome.owed)} owed"
    return {"unchanged": "no change", "held": "held for you", "moved": "updated"}.get(
        outcome.result, outcome.result
    )
