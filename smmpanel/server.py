"""Running the panel's ASGI app with uvicorn, in the foreground or in a thread."""

from __future__ import annotations

import functools
import gc
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from smmpanel.api_v2.app import create_app, panel_metrics
from smmpanel.api_v2.ratelimit import proxy_options
from smmpanel.config import Settings, replica_urls
from smmpanel.db import Database
from smmpanel.http_protocol import HTTP_PROTOCOL
from smmpanel.logscrub import install_log_scrubbing
from smmpanel.reuseport import PortGroup, Supervisor, reuseport_supported
from smmpanel.web.admin.app import create_admin_app
from smmpanel.web.app import create_web_app
from smmpanel.web.payment_webhooks import webhook_routes

# What uvicorn imports in each process of `smmpanel serve --workers N`.
LISTEN_BACKLOG = 2048  # uvicorn's default


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def panel_app(settings: Settings, database_url: str | None = None) -> Starlette:
    """The panel's app on its own engine, whose waits are bounded by
    SMMPANEL_DB_BUSY_TIMEOUT_SECONDS (an API call answers 503 rather than wait
    on a busy or unreachable database; the worker keeps its longer waits), with
    the customer web pages beside /api/v2, and its reads that tolerate a little
    lag on the replicas of SMMPANEL_DATABASE_REPLICA_URLS."""
    db = Database(
        database_url or settings.database_url,
        busy_timeout=settings.db_busy_timeout_seconds,
        replica_urls=replica_urls(settings),
        fresh_seconds=settings.replica_fresh_seconds,
    )
    return site_app(db, settings)


def site_app(db: Database, settings: Settings) -> Starlette:
    """/api/v2, the payment webhooks, the customer pages and the admin (/admin)
    over `db`: apps side by side, so that neither an API call nor a gateway's
    webhook passes through the pages' session and CSRF middleware, and a
    customer's session never reaches an admin page."""
    web = create_web_app(db, settings)
    admin = create_admin_app(db, settings)
    metrics = panel_metrics()  # the API's calls and the payment webhooks, at /metrics
    return create_app(
        db,
        max_body=settings.max_body_bytes,
        settings=settings,
        web=web,
        admin=admin,
        extra_routes=webhook_routes(db, settings, metrics=metrics),
        metrics=metrics,
    )


def app_factory(settings: Settings) -> Callable[[], Starlette]:
    """uvicorn's factory for the worker processes of `smmpanel serve --workers N`:
    it travels to each process pickled with its settings, so the parent's
    settings (its --database-url too) configure the children without touching
    os.environ (the parent has migrated already)."""
    return functools.partial(_app_in_worker_process, settings)


def serving_app(settings: Settings, database_url: str | None = None) -> Starlette:
    """`panel_app` for a server process that serves it until it ends: the
    ~150,000 objects of the built app (pages, ORM, libraries) live as long as
    the process, so they are kept out of every garbage collection from now on.
    Server CPU per API call 5-15 us less (bench_api.py, SQLite: balance 147 ->
    142 us, status 167 -> 158, status of 100 ids 392 -> 379).  Not for tests,
    which build many apps in one process."""
    app = panel_app(settings, database_url)
    gc.freeze()
    return app


def _app_in_worker_process(settings: Settings) -> Starlette:
    install_log_scrubbing()
    return serving_app(settings)


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and listening, for uvicorn to serve on.

    Binding before anything else is done lets `serve` and `demo` say "port in use"
    before they touch a database, and print their address only once it is theirs.
    The socket is created with IPPROTO_TCP, not uvicorn's proto 0: accepted sockets
    inherit the proto, and asyncio sets TCP_NODELAY only on IPPROTO_TCP ones.
    Without it every keep-alive request after the first waited ~40 ms for a delayed
    ACK (measured with 2 processes: 350 balance calls/s instead of 3,200; uvicorn
    issue #3149).  Raises OSError (EADDRINUSE: the port is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)  # now, so that a second process cannot bind it too
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # for the worker processes of --workers N
    return sock


def bind_listeners(host: str, port: int, processes: int) -> socket.socket | PortGroup:
    """The sockets of `serve --workers N`: one per process with SO_REUSEPORT
    where the kernel spreads connections over them (Linux; reuseport.PortGroup),
    else one listening socket shared by every process (uvicorn's way; one
    process may then accept every connection of a burst).  Raises OSError
    (EADDRINUSE: the port is taken)."""
    if processes > 1 and reuseport_supported():
        return PortGroup(host, port, processes)
    return bind_listener(host, port)


def serve_on(listener: socket.socket, config: uvicorn.Config) -> None:
    """Serve config's app on the bound listener until Ctrl+C or SIGTERM."""
    try:
        uvicorn.Server(config).run(sockets=[listener])
    except KeyboardInterrupt:
        pass


def run_processes(listeners: socket.socket | PortGroup, config: uvicorn.Config) -> None:
    """config.workers processes: each on its socket of a PortGroup, or with
    uvicorn's supervisor all accepting on the one shared listener."""
    try:
        if isinstance(listeners, PortGroup):
            Supervisor(config, listeners).run()
        else:
            Multiprocess(config, sockets=[listeners]).run()
    except KeyboardInterrupt:
        pass


@contextmanager
def serve_in_thread(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    settings: Settings | None = None,
) -> Iterator[str]:
    """Serve `app` from a background thread; yields the base URL, stops on exit.
    `settings` (default: the environment's) says which proxies are trusted."""
    port = port or free_port(host)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=HTTP_PROTOCOL,
        log_level="warning",
        # The app's shutdown closes its connections (the loop's reads on PostgreSQL).
        lifespan="auto",
        **proxy_options(settings or Settings()),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
