"""Serve a fake gateway's ASGI app on a free loopback port in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from smmpanel.http_protocol import HTTP_PROTOCOL


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, *, name: str, startup_timeout: float = 10.0) -> Iterator[str]:
    """Run `app` on 127.0.0.1 until the block ends; yields its base URL
    (``http://127.0.0.1:PORT``, no trailing slash)."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP; without it each keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=HTTP_PROTOCOL,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
            loop="asyncio",
        )
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"{name}-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(f"{name} failed to start") from (failure[0] if failure else None)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start within {startup_timeout} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
