"""`smmpanel serve` and `smmpanel demo`: run the panel's web app with uvicorn."""

import errno
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, select

from smmpanel.accounts.models import Account
from smmpanel.accounts.passwords import hash_password
from smmpanel.accounts.service import create_account
from smmpanel.api_v2.ratelimit import check_settings, proxy_options
from smmpanel.audit.models import Actor
from smmpanel.catalog.models import Service
from smmpanel.cli.common import (
    CliError,
    DatabaseUrl,
    echo,
    global_database_url,
    open_panel,
    safe_url,
    sqlite_path,
)
from smmpanel.config import Settings, replica_urls, use_settings
from smmpanel.db import Database
from smmpanel.http_protocol import HTTP_PROTOCOL
from smmpanel.ledger.funding import fund_account
from smmpanel.logscrub import install_log_scrubbing
from smmpanel.metrics.multiproc import metrics_directory
from smmpanel.money import format_units
from smmpanel.payments.setup import configure_gateway, enable_gateway
from smmpanel.providers.catalog_sync import import_provider_services
from smmpanel.providers.service import add_provider
from smmpanel.reuseport import PortGroup
from smmpanel.secretbox import SecretBox, new_key
from smmpanel.server import app_factory, bind_listeners, run_processes, serve_on, serving_app
from smmpanel.simulator.testing import running_simulator
from smmpanel.staff.service import add_staff
from smmpanel.tokens import new_token
from smmpanel.worker import build_worker

DEMO_FILE = "smmpanel-demo.db"
DEMO_USER = "demo"
DEMO_STAFF = "admin"
DEMO_FUNDS = Decimal("100.00000")
DEMO_PROVIDER = "simulator"
DEMO_SPEED = 10.0  # seconds per stage at the simulator: an order completes in ~20 s
DEMO_BONUS = "50:5"  # +5% from 50: the bonus shows on "Add funds" and in the ledger
DEMO_INSTRUCTIONS = (
    "Transfer the amount to IBAN XX00 DEMO 0000 0000 0000 (Demo Panel Ltd) "
    "with the reference below; the panel owner credits it once it arrives."
)
# The demo's worker syncs often, so orders visibly move (unless SMMPANEL_* says otherwise).
DEMO_INTERVALS = {"status_sync_seconds": 5, "dripfeed_seconds": 10, "reconcile_seconds": 30}

Host = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
Port = Annotated[int, typer.Option("--port", help="TCP port to listen on.", min=1, max=65535)]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="uvicorn processes serving the API (default SMMPANEL_WORKERS, else 1).",
        min=1,
        show_default=False,
    ),
]


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
    root.command("demo")(demo)


def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Migrate the database, then serve the panel (the /api/v2 endpoint) with uvicorn."""
    install_log_scrubbing()
    settings = Settings()
    SecretBox.from_settings(settings)  # no secret key: one Error line, exit 2
    processes = workers or settings.workers
    if processes < 1:
        raise CliError(f"SMMPANEL_WORKERS must be 1 or more, not {processes}")
    check_settings(settings)  # a bad rate limit is refused here, not in each process
    # The port first: if it is taken, nothing else happens (no migration either).
    with closing(_listen_all(host, port, processes)) as listeners:
        # Migrations run here, once, before any worker process starts.
        with open_panel(database_url, migrate=True) as db:
            echo(f"smmpanel: database {safe_url(db.url)}")
            _say_replicas(settings, db)
            shown = f", {processes} processes" if processes > 1 else ""
            base = _base_url(host, port)
            echo(f"smmpanel: serving {base}/api/v2 and the pages at {base}/{shown} (Ctrl+C stops)")
            if isinstance(listeners, socket.socket) and processes == 1:
                with metrics_directory(processes):
                    _run(db, listeners, settings)
                return
            url = db.url
        with metrics_directory(processes):  # set before the processes start
            _run_processes(url, listeners, settings, processes)


def _say_replicas(settings: Settings, db: Database) -> None:
    """One line naming the read replicas, or one `Error:` line: they need PostgreSQL."""
    replicas = replica_urls(settings)
    if replicas and db.is_sqlite:
        raise CliError(
            "SMMPANEL_DATABASE_REPLICA_URLS needs PostgreSQL: a SQLite panel has no replicas"
        )
    for url in replicas:
        if url.split("://", 1)[0] not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise CliError(f"read replica {safe_url(url)!r}: use postgresql://USER@HOST/DBNAME")
        echo(f"smmpanel: read replica {safe_url(url)}")


def demo(
    port: Port = 8000,
    host: Host = "127.0.0.1",
    speed: Annotated[
        float,
        typer.Option("--speed", help="Seconds an order spends in each stage at the simulator."),
    ] = DEMO_SPEED,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", help="Serve the demo panel after setting it up (the default)."
        ),
    ] = True,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=(
                f"Put the demo in this database, which must be empty. Without it the demo "
                f"uses {DEMO_FILE} in the current directory, deleted and recreated each "
                f"time unless another demo or process has it open (SMMPANEL_DATABASE_URL "
                f"is not used, so a demo never touches your real panel)."
            ),
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set up a fresh demo panel fed by a provider simulator, with the worker, and serve it."""
    install_log_scrubbing()
    # The environment's database is not used: a demo never touches the real panel.
    url = database_url or global_database_url()
    settings = demo_settings(Settings())
    with ExitStack() as held:
        held.enter_context(use_settings(settings))
        # The port, then the demo's own file, before anything is deleted or written:
        # a second demo stops here and leaves the running one alone.
        listener = held.enter_context(closing(_listen(host, port))) if serve else None
        if url is None:
            url = held.enter_context(_own_demo_file())
        with open_panel(url, migrate=True) as db:
            _require_empty(db)
            with running_simulator(speed=speed, balance="100000") as simulator:
                key, password = _seed(db, simulator.api_url, simulator.key, simulator.base_url)
                staff_password = _seed_staff(db)
                base = _base_url(host, port)
                _print_welcome(db, base, key, password, simulator.base_url, staff_password)
                if listener is not None:
                    _run_with_worker(db, listener, settings)


def demo_settings(settings: Settings) -> Settings:
    """The demo's settings, installed in-process: its provider simulator is on
    loopback, and without SMMPANEL_SECRET_KEY an ephemeral key encrypts the
    secrets of its database, which is fresh each time."""
    # No rate limits: curl by hand on one machine, nothing to limit.  The session
    # cookie goes over plain HTTP: the demo serves http://127.0.0.1.
    update: dict[str, object] = {
        "allow_private_urls": True,
        "rate_limits": False,
        "web_https_only": False,
        # The demo gateway's Pay and Fail buttons (never on a real panel).
        "demo_payments": True,
        "staff_two_factor": False,
    }
    update |= {k: v for k, v in DEMO_INTERVALS.items() if k not in settings.model_fields_set}
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        update["secret_key"] = SecretStr(new_key())
    return settings.model_copy(update=update)


def _run_with_worker(db: Database, listener: socket.socket, settings: Settings) -> None:
    """The worker in a background thread, the API in the foreground."""
    stop = threading.Event()
    worker = build_worker(db, name="demo-worker", poll_interval=0.2, settings=settings)
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        _run(db, listener, settings)
    finally:
        stop.set()
        thread.join(timeout=10)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket of one process (or one `Error:` line, as below)."""
    listener = _listen_all(host, port, 1)
    assert isinstance(listener, socket.socket)
    return listener


def _listen_all(host: str, port: int, processes: int) -> socket.socket | PortGroup:
    """The sockets of `processes` processes (server.bind_listeners), or one
    `Error:` line saying why there are none."""
    try:
        return bind_listeners(host, port, processes)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(
                f"port {port} on {host} is in use (a panel or a demo already running?); "
                f"stop it or choose another --port"
            ) from None
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _run(db: Database, listener: socket.socket, settings: Settings) -> None:
    app = serving_app(settings, db.url)
    sys.stdout.flush()  # the key and URLs reach a pipe before the server blocks
    # No access log by default: a line per request cost more than the request
    # itself on the balance action (measured); SMMPANEL_ACCESS_LOG=1 turns it on.
    config = uvicorn.Config(
        app,
        http=HTTP_PROTOCOL,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        **proxy_options(settings),
    )
    serve_on(listener, config)


def _run_processes(
    url: str, listeners: socket.socket | PortGroup, settings: Settings, processes: int
) -> None:
    """Several uvicorn processes, each on a socket of its own where the system
    allows (server.bind_listeners), each building its app from these settings
    (pickled to it; --database-url included): on two cores two processes served
    2.2x the balance calls of one (measured; one process is bound by the GIL)."""
    sys.stdout.flush()
    config = uvicorn.Config(
        app_factory(settings.model_copy(update={"database_url": url})),
        factory=True,
        workers=processes,
        http=HTTP_PROTOCOL,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        **proxy_options(settings),
    )
    run_processes(listeners, config)


def _base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@contextmanager
def _own_demo_file() -> Iterator[str]:
    """The URL of a fresh DEMO_FILE in the current directory, held for the demo's
    life by an exclusive lock on DEMO_FILE.lock: a second demo started here stops
    instead of deleting the file the first one is serving.  A file that another
    process has open (a `serve` or a shell on it) is never deleted either."""
    path = Path.cwd() / DEMO_FILE
    with _exclusive_lock(Path(f"{path}.lock")):
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        users = _processes_using(files)
        if users:
            raise CliError(
                f"{path} is open in process {', '.join(map(str, users))}; a demo never "
                f"deletes a database in use: stop that process, or run the demo elsewhere"
            )
        for leftover in files:
            leftover.unlink(missing_ok=True)
        yield f"sqlite:///{path}"


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """flock(LOCK_EX) on path, released when the block ends or the process dies
    (even killed).  The lock file itself stays: deleting it would let two
    processes lock two different files of the same name."""
    import fcntl  # POSIX only, and only the demo needs it

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(
                f"another demo is running from this directory (it holds {path}); "
                f"stop it first, or start this one in another directory"
            ) from None
        yield
    finally:
        os.close(fd)


def _processes_using(files: list[Path]) -> list[int]:
    """Ids of the other processes with one of these files open, read from /proc
    (Linux; elsewhere, or for processes we may not inspect, none are found)."""
    targets = {str(file.resolve()) for file in files if file.exists()}
    if not targets:
        return []
    users = []
    for fds in Path("/proc").glob("[0-9]*/fd"):
        pid = int(fds.parent.name)
        if pid == os.getpid():
            continue
        try:
            opened = {os.readlink(fd) for fd in fds.iterdir()}
        except OSError:  # gone meanwhile, or not ours to see
            continue
        if opened & targets:
            users.append(pid)
    return sorted(users)


def _require_empty(db: Database) -> None:
    with db.read() as session:
        accounts = session.scalar(select(func.count(Account.id))) or 0
        services = session.scalar(select(func.count(Service.id))) or 0
    if accounts or services:
        where = sqlite_path(db.url) or safe_url(db.url)
        raise CliError(
            f"the demo needs an empty database, and {where} has {accounts} account(s) and "
            f"{services} service(s); use another database, or run `smmpanel demo` without "
            f"--database-url to use {DEMO_FILE}"
        )


def _seed(
    db: Database, provider_url: str, provider_key: str, simulator_base: str
) -> tuple[str, str]:
    """The simulator as provider, its catalog imported at a 25% markup, and a
    funded demo account; returns the account's API key and web password (random:
    a demo reachable from a network is not open to whoever knows the code)."""
    add_provider(
        db,
        name=DEMO_PROVIDER,
        api_url=provider_url,
        api_key=provider_key,
        dialect={"timeout": 10, "lookup_url": f"{simulator_base}/_sim/orders"},
    )
    import_provider_services(db, provider_name=DEMO_PROVIDER, markup_percent="25", round_places=2)
    password = new_token(9)
    account = create_account(
        db, username=DEMO_USER, email="demo@example.com", password_hash=hash_password(password)
    )
    fund_account(db, username=DEMO_USER, amount=DEMO_FUNDS, note="demo funds")
    _seed_gateways(db)
    return account.api_key, password


def _seed_staff(db: Database) -> str:
    """The demo's owner for /admin (two-factor off, as it is for every new member
    until they set it up); returns the generated password."""
    _, password = add_staff(db, username=DEMO_STAFF, role="owner", actor=Actor.system())
    return password


def _seed_gateways(db: Database) -> None:
    """ "Add funds" offers the demo gateway (its webhooks signed with a random
    secret) and a manual transfer with sample instructions."""
    actor = Actor.system()
    configure_gateway(
        db, code="demo", values={"secret": new_token(24), "bonus": DEMO_BONUS}, actor=actor
    )
    enable_gateway(db, code="demo", actor=actor)
    configure_gateway(
        db, code="manual", values={"instructions": DEMO_INSTRUCTIONS, "min": "10"}, actor=actor
    )
    enable_gateway(db, code="manual", actor=actor)


def _print_welcome(
    db: Database, base: str, key: str, password: str, simulator: str, staff_password: str
) -> None:
    api = f"{base}/api/v2"
    with db.read() as session:
        balance, currency = session.execute(
            select(Account.balance, Account.currency).where(Account.username == DEMO_USER)
        ).one()
        services = session.scalar(select(func.count(Service.id))) or 0
    echo("smmpanel demo is ready")
    echo(f"  database: {safe_url(db.url)}")
    echo(f"  panel:    {base}  (log in as {DEMO_USER}, password {password})")
    echo(f"  admin:    {base}/admin/  (log in as {DEMO_STAFF}, password {staff_password})")
    echo(f"  API:      {api}")
    echo(f"  account:  {DEMO_USER}, balance {format_units(balance)} {currency}")
    echo(f"  catalog:  {services} services imported from a provider simulator at {simulator}")
    echo("  worker:   running: orders are forwarded and complete by themselves in ~30 s")
    echo("  payments: Add funds offers the demo gateway (Pay / Fail) and a manual transfer")
    echo("            (approve a transfer: smmpanel --database-url DATABASE deposits approve ID)")
    echo()
    echo("List the services:")
    echo(f"  curl -s {api} -d key={key} -d action=services")
    echo("Place an order (100 followers, service 1):")
    echo(
        f"  curl -s {api} -d key={key} -d action=add -d service=1 "
        f"-d link=https://instagram.com/smmpanel_demo -d quantity=100"
    )
    echo("Check the order and the balance:")
    echo(f"  curl -s {api} -d key={key} -d action=status -d order=1")
    echo(f"  curl -s {api} -d key={key} -d action=balance")
    echo()
    echo("API key of the demo account:")
    echo(key)
