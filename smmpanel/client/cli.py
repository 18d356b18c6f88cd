"""``smm``: the reseller API v2 from the command line (typer + rich).

Configured by ``--url``/``--key``/``--method`` or ``SMM_API_URL``/``SMM_API_KEY``/
``SMM_API_METHOD``. Every command takes ``--json``. Exit codes: 0 success,
1 the panel answered an error (for the call or for one of the ids), 2 usage
error, 3 no usable answer (network, timeout, HTTP 5xx, unreadable answer),
4 an unexpected internal error.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import typer

from ._render import VIEWS, print_json, print_line, print_table, progress_for, service_rows
from .errors import ApiError, SmmError
from .sync import Client

EXIT_OK, EXIT_API, EXIT_USAGE, EXIT_TRANSPORT, EXIT_INTERNAL = 0, 1, 2, 3, 4

HELP = """Talk to an SMM panel's reseller API v2.

Set the panel with --url/--key (before the command, or after it for that command
alone) or the SMM_API_URL/SMM_API_KEY environment variables (prefer the variable for
the key: command lines are visible to other users).

Exit codes: 0 success; 1 the panel answered an error (for the whole call or for one
of the ids); 2 usage error; 3 no usable answer (connection, timeout, HTTP 5xx,
unreadable answer; for add: the order may or may not exist); 4 internal error.
"""

app = typer.Typer(
    name="smm",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class RequestMethod(enum.StrEnum):
    post = "post"
    json = "json"
    get = "get"


UrlOpt = Annotated[
    str | None,
    typer.Option("--url", envvar="SMM_API_URL", help="API address, e.g. https://panel/api/v2."),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", envvar="SMM_API_KEY", help="API key.", show_default=False),
]
MethodOpt = Annotated[
    RequestMethod,
    typer.Option(
        "--method",
        envvar="SMM_API_METHOD",
        case_sensitive=False,
        help="post: form body; json: JSON body; get: query string.",
    ),
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per network step.")]
RetriesOpt = Annotated[
    int,
    typer.Option("--retries", envvar="SMM_API_RETRIES", min=0, help="Retries of safe calls."),
]

# The same settings after the command name (`smm balance --url ...`) override those
# given before it (`smm --url ... balance`) and the environment.
OVERRIDES = "Overrides the same option given before the command."
CmdUrlOpt = Annotated[str | None, typer.Option("--url", help=OVERRIDES)]
CmdKeyOpt = Annotated[str | None, typer.Option("--key", help=OVERRIDES, show_default=False)]
CmdMethodOpt = Annotated[
    RequestMethod | None, typer.Option("--method", case_sensitive=False, help=OVERRIDES)
]
CmdTimeoutOpt = Annotated[float | None, typer.Option("--timeout", min=0.1, help=OVERRIDES)]
CmdRetriesOpt = Annotated[int | None, typer.Option("--retries", min=0, help=OVERRIDES)]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout, money as strings.")]
IdsArg = Annotated[list[int], typer.Argument(help="One or more ids.", min=1)]


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(" ".join(message.split()), err=True)
    raise typer.Exit(code)


@dataclass(frozen=True)
class Settings:
    """The connection settings given before the command (or by the environment)."""

    url: str | None = None
    key: str | None = None
    method: RequestMethod = RequestMethod.post
    timeout: float = 30.0
    retries: int = 2
    as_json: bool = False


def _settings(ctx: typer.Context) -> Settings:
    found = ctx.find_object(Settings)
    return found if found is not None else Settings()


def _wants_json(ctx: typer.Context, as_json: bool) -> bool:
    return as_json or _settings(ctx).as_json


@contextmanager
def _session(
    ctx: typer.Context,
    url: str | None,
    key: str | None,
    method: RequestMethod | None,
    timeout: float | None,
    retries: int | None,
    as_json: bool,
) -> Iterator[Client]:
    """A client of the configured panel; SDK errors become one line on stderr and an exit code.

    A whole-call error of the panel is that line with the panel's explanation, and
    with --json also the panel's error object on stdout.  Options after the command
    win over those before it, which win over the environment.
    """
    base = _settings(ctx)
    url, key = url or base.url, key or base.key
    method = method or base.method
    timeout = base.timeout if timeout is None else timeout
    retries = base.retries if retries is None else retries
    if not url:
        raise typer.BadParameter(
            "no API address: pass --url or set SMM_API_URL", param_hint="--url"
        )
    if not key:
        raise typer.BadParameter("no API key: pass --key or set SMM_API_KEY", param_hint="--key")
    try:
        client = Client(url, key, method=method.value, timeout=timeout, retries=retries)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        with client:
            yield client
    except ApiError as exc:
        if _wants_json(ctx, as_json):
            print_json(_error_object(exc))
        _fail(f"error: {exc} [{exc.code}]", EXIT_API)
    except SmmError as exc:  # TransportError, OrderMayExistError, ProtocolError
        _fail(f"error: {exc}", EXIT_TRANSPORT)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).replace(key, "***")) from None
    except typer.Exit:
        raise
    except Exception as exc:
        _fail(
            f"internal error: {type(exc).__name__}: {str(exc).replace(key, '***')}", EXIT_INTERNAL
        )


def _error_object(exc: ApiError) -> object:
    """What the panel answered, for --json: its own error object when it sent one."""
    if isinstance(exc.answer, dict):
        return exc.answer
    return {"error": exc.message, **exc.details}


def _finish(results: list[Any]) -> None:
    """Exit 1 when any id got an error."""
    failed = [r for r in results if getattr(r, "error", None) is not None]
    if failed:
        typer.echo(f"{len(failed)} of {len(results)} ids answered with an error", err=True)
        raise typer.Exit(EXIT_API)


# -- commands --------------------------------------------------------------


@app.callback()
def connection(
    ctx: typer.Context,
    url: UrlOpt = None,
    key: KeyOpt = None,
    method: MethodOpt = RequestMethod.post,
    timeout: TimeoutOpt = 30.0,
    retries: RetriesOpt = 2,
    as_json: JsonOpt = False,
) -> None:
    """Settings for every command; each command also takes them after its name."""
    ctx.obj = Settings(url, key, method, timeout, retries, as_json)


@app.command()
def balance(
    ctx: typer.Context,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the account's balance."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        result = client.balance()
    if _wants_json(ctx, as_json):
        print_json(result.to_dict())
    else:
        print_table("Balance", ["Balance", "Currency"], [[str(result.balance), result.currency]])


@app.command()
def services(
    ctx: typer.Context,
    category: Annotated[str | None, typer.Option(help="Only categories containing TEXT.")] = None,
    search: Annotated[str | None, typer.Option(help="Only names containing TEXT.")] = None,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the panel's services."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        found = client.services()
    if category:
        found = [s for s in found if category.lower() in s.category.lower()]
    if search:
        found = [s for s in found if search.lower() in s.name.lower() or search == str(s.service)]
    if _wants_json(ctx, as_json):
        print_json([s.to_dict() for s in found])
    else:
        columns = [
            "ID",
            "Name",
            "Type",
            "Category",
            "Rate",
            "Min",
            "Max",
            "Drip",
            "Refill",
            "Cancel",
        ]
        print_table(f"{len(found)} services", columns, service_rows(found))


def _read_lines(path: str | None, option: str) -> list[str] | None:
    if path is None:
        return None
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}", param_hint=option) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _key_values(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--param")
        out[name.strip()] = value
    return out


ListOpt = Annotated[
    list[str] | None, typer.Option(metavar="TEXT", help="One value per option, repeatable.")
]
IntOpt = Annotated[int | None, typer.Option()]
TextOpt = Annotated[str | None, typer.Option()]


@app.command()
def add(
    ctx: typer.Context,
    service: Annotated[int, typer.Argument(help="Service id.")],
    link: Annotated[str, typer.Argument(help="Link to the page ('' to send none).")],
    quantity: Annotated[int | None, typer.Argument(help="Quantity.")] = None,
    runs: Annotated[int | None, typer.Option(help="Drip-feed: runs.")] = None,
    interval: Annotated[int | None, typer.Option(help="Drip-feed: minutes between runs.")] = None,
    comments_file: Annotated[
        str | None, typer.Option(help="Comments, one per line ('-' for stdin).")
    ] = None,
    usernames_file: Annotated[str | None, typer.Option(help="Usernames, one per line.")] = None,
    comments: ListOpt = None,
    usernames: ListOpt = None,
    hashtags: ListOpt = None,
    groups: ListOpt = None,
    keywords: ListOpt = None,
    hashtag: TextOpt = None,
    username: TextOpt = None,
    media: TextOpt = None,
    answer_number: Annotated[int | None, typer.Option(help="Poll: answer number.")] = None,
    country: TextOpt = None,
    device: IntOpt = None,
    type_of_traffic: IntOpt = None,
    google_keyword: TextOpt = None,
    referring_url: TextOpt = None,
    min_: Annotated[int | None, typer.Option("--min", help="Subscriptions: minimum.")] = None,
    max_: Annotated[int | None, typer.Option("--max", help="Subscriptions: maximum.")] = None,
    posts: IntOpt = None,
    old_posts: IntOpt = None,
    delay: IntOpt = None,
    expiry: Annotated[str | None, typer.Option(help="Subscriptions: expiry, d/m/Y.")] = None,
    request_id: Annotated[
        str | None, typer.Option(help="Idempotency key: makes the call safe to retry.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(metavar="NAME=VALUE", help="Any other parameter.")
    ] = None,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Place an order."""
    comment_lines = _read_lines(comments_file, "--comments-file") or comments
    username_lines = _read_lines(usernames_file, "--usernames-file") or usernames
    extra = _key_values(param or [])
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        placed = client.add(
            service,
            link or None,
            quantity,
            runs=runs,
            interval=interval,
            comments=comment_lines,
            usernames=username_lines,
            hashtags=hashtags,
            hashtag=hashtag,
            username=username,
            media=media,
            answer_number=answer_number,
            groups=groups,
            keywords=keywords,
            country=country,
            device=device,
            type_of_traffic=type_of_traffic,
            google_keyword=google_keyword,
            referring_url=referring_url,
            min=min_,
            max=max_,
            posts=posts,
            old_posts=old_posts,
            delay=delay,
            expiry=expiry,
            request_id=request_id,
            **extra,
        )
    if _wants_json(ctx, as_json):
        print_json(placed.to_dict())
    else:
        print_line(f"Order {placed.order_id} placed.")


def _many(
    ctx: typer.Context,
    kind: str,
    ids: list[int],
    fetch: Callable[..., list[Any]],
    as_json: bool,
) -> None:
    """Run one of the multi-id commands and print its results."""
    view = VIEWS[kind]
    with progress_for(len(ids), view.title) as progress:
        results = fetch(ids, progress=progress)
    if _wants_json(ctx, as_json):
        print_json([r.to_dict() for r in results])
    else:
        print_table(view.title, view.columns, [view.row(r) for r in results])
    _finish(results)


@app.command()
def status(
    ctx: typer.Context,
    ids: IdsArg,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the status of orders."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        _many(ctx, "status", ids, client.statuses, as_json)


@app.command()
def refill(
    ctx: typer.Context,
    ids: IdsArg,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask for refills of orders."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        _many(ctx, "refill", ids, client.refills, as_json)


@app.command("refill-status")
def refill_status(
    ctx: typer.Context,
    ids: IdsArg,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the status of refill requests."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        _many(ctx, "refill-status", ids, client.refill_statuses, as_json)


@app.command()
def cancel(
    ctx: typer.Context,
    ids: IdsArg,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask to cancel orders."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        _many(ctx, "cancel", ids, client.cancel, as_json)


@app.command("cancel-status")
def cancel_status(
    ctx: typer.Context,
    ids: IdsArg,
    url: CmdUrlOpt = None,
    key: CmdKeyOpt = None,
    method: CmdMethodOpt = None,
    timeout: CmdTimeoutOpt = None,
    retries: CmdRetriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the status of cancel requests."""
    with _session(ctx, url, key, method, timeout, retries, as_json) as client:
        _many(ctx, "cancel-status", ids, client.cancel_statuses, as_json)


def main() -> None:
    """The ``smm`` console script."""
    app(prog_name="smm")
