"""Running the panel's ASGI app with uvicorn, in the foreground or in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from smmpanel.api_v2.app import create_app
from smmpanel.api_v2.ratelimit import proxy_options
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.logscrub import install_log_scrubbing

# What uvicorn imports in each process of `smmpanel serve --workers N`.
APP_FACTORY = "smmpanel.server:app_from_environment"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def panel_app(settings: Settings, database_url: str | None = None) -> Starlette:
    """The panel's app on its own engine, whose waits are bounded by
    SMMPANEL_DB_BUSY_TIMEOUT_SECONDS (an API call answers 503 rather than wait
    on a busy or unreachable database; the worker keeps its longer waits)."""
    db = Database(
        database_url or settings.database_url, busy_timeout=settings.db_busy_timeout_seconds
    )
    return create_app(db, max_body=settings.max_body_bytes, settings=settings)


def app_from_environment() -> Starlette:
    """The panel's app from SMMPANEL_* settings: uvicorn's factory for the worker
    processes of `smmpanel serve --workers N` (the parent has migrated already)."""
    install_log_scrubbing()
    return panel_app(Settings())


def run_processes(config: uvicorn.Config) -> None:
    """uvicorn's `workers=N` (config.workers processes on one listening socket),
    with TCP_NODELAY kept on the connections.  uvicorn 0.54 binds that socket
    with proto 0, accepted sockets inherit it, and asyncio then leaves Nagle on:
    every keep-alive request after the first waited ~40 ms for a delayed ACK
    (measured: 2 processes served 350 balance calls/s, 1 process 1,200;
    uvicorn issue #3149).  Re-wrapped with IPPROTO_TCP, asyncio sets it."""
    listener = config.bind_socket()
    if listener.family in (socket.AF_INET, socket.AF_INET6) and listener.proto == 0:
        listener = socket.socket(
            listener.family, listener.type, socket.IPPROTO_TCP, fileno=listener.detach()
        )
    try:
        Multiprocess(config, sockets=[listener]).run()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()


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
        log_level="warning",
        lifespan="off",
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
