"""`smmpanel admins ...`: the staff who log in to the web admin at /admin."""

import sys
from typing import Annotated, Any

import typer

from smmpanel.audit.models import Actor
from smmpanel.cli.common import (
    CliError,
    DatabaseUrl,
    JsonFlag,
    echo,
    emit_json,
    emit_table,
    iso,
    open_panel,
    short_time,
)
from smmpanel.staff.logins import turn_off_staff_two_factor
from smmpanel.staff.roles import Role
from smmpanel.staff.service import (
    add_staff,
    change_staff_role,
    list_staff,
    reset_staff_password,
    set_staff_active,
)

app = typer.Typer(
    help="Staff of the web admin (/admin): add, list, roles, passwords.", no_args_is_help=True
)
Name = Annotated[str, typer.Argument(help="The staff member's username.", show_default=False)]
ROLES = ", ".join(role.value for role in Role)
RoleOption = Annotated[
    str,
    typer.Option(
        "--role",
        help=f"{ROLES}: owner may do everything; manager runs catalog, orders and "
        "customers but not settings or staff; support answers tickets, reads orders "
        "and handles refills and cancels.",
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (its first line) instead of generating one.",
    ),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="admins")


def _password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CliError("no password on standard input")
    return line


@app.command("add")
def add(
    name: Name,
    role: RoleOption = "owner",
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a staff member; prints the password (generated unless --password-stdin)
    once: the panel keeps only its hash."""
    password = _password(password_stdin)
    with open_panel(database_url) as db:
        staff_id, secret = add_staff(
            db, username=name, role=role, password=password, actor=Actor.cli()
        )
    echo(f"staff member {name} added as {role.strip().lower()} (id {staff_id})")
    if password is None:
        echo(f"password (shown once): {secret}")


@app.command("list")
def list_all(json_output: JsonFlag = False, database_url: DatabaseUrl = None) -> None:
    """The staff members, their roles and last logins."""
    with open_panel(database_url) as db:
        rows = list_staff(db)
    if json_output:
        data: list[dict[str, Any]] = [
            {
                "id": r.id,
                "username": r.username,
                "role": r.role,
                "status": r.status,
                "two_factor": r.two_factor,
                "created_at": iso(r.created_at),
                "last_login_at": iso(r.last_login_at),
            }
            for r in rows
        ]
        emit_json(data)
        return
    emit_table(
        ["id", "username", "role", "status", "2FA", "last login"],
        [
            (
                r.id,
                r.username,
                r.role,
                r.status,
                "on" if r.two_factor else "off",
                short_time(r.last_login_at) if r.last_login_at else "never",
            )
            for r in rows
        ],
        empty="no staff yet: add the owner with `smmpanel admins add NAME`",
    )


@app.command("set-role")
def set_role(
    name: Name,
    role: Annotated[str, typer.Argument(help=ROLES, show_default=False)],
    database_url: DatabaseUrl = None,
) -> None:
    """Change what a staff member may do (their open sessions are logged out)."""
    with open_panel(database_url) as db:
        change_staff_role(db, username=name, role=role, actor=Actor.cli())
    echo(f"{name} is now {role.strip().lower()}")


@app.command("disable")
def disable(name: Name, database_url: DatabaseUrl = None) -> None:
    """Stop a staff member from logging in (and log their sessions out)."""
    with open_panel(database_url) as db:
        changed = set_staff_active(db, username=name, active=False, actor=Actor.cli())
    echo(f"{name} disabled" if changed else f"{name} was disabled already; nothing changed")


@app.command("enable")
def enable(name: Name, database_url: DatabaseUrl = None) -> None:
    """Let a disabled staff member log in again."""
    with open_panel(database_url) as db:
        changed = set_staff_active(db, username=name, active=True, actor=Actor.cli())
    echo(f"{name} enabled" if changed else f"{name} was enabled already; nothing changed")


@app.command("reset-password")
def reset_password(
    name: Name, password_stdin: PasswordStdin = False, database_url: DatabaseUrl = None
) -> None:
    """Give a staff member a new password (printed once unless --password-stdin);
    their open sessions are logged out."""
    password = _password(password_stdin)
    with open_panel(database_url) as db:
        secret = reset_staff_password(db, username=name, password=password, actor=Actor.cli())
    echo(f"password of {name} reset")
    if password is None:
        echo(f"password (shown once): {secret}")


@app.command("2fa-off")
def two_factor_off(name: Name, database_url: DatabaseUrl = None) -> None:
    """Turn two-factor authentication off for a member who lost the device (audited)."""
    with open_panel(database_url) as db:
        was_on = turn_off_staff_two_factor(db, username=name, actor=Actor.cli())
    if was_on:
        echo(f"two-factor authentication turned off for {name}")
    else:
        echo(f"two-factor authentication was not on for {name}; nothing changed")
