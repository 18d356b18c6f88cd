"""Calling the panel's ASGI app in-process: the same app and code path as behind
uvicorn, from the ASGI scope on, without sockets and HTTP parsing, so that the
fuzzing suite can make tens of thousands of calls in seconds.  Requests run in
batches on one event loop (a blocking portal), as one uvicorn process would
run them one after the other."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str
    query: bytes = b""
    headers: Sequence[tuple[bytes, bytes]] = ()
    body: bytes = b""
    chunked: bool = False  # sent in pieces, without a Content-Length

    def chunks(self) -> list[bytes]:
        if not self.chunked or len(self.body) < 2:
            return [self.body]
        step = max(1, len(self.body) // 3)
        return [self.body[i : i + step] for i in range(0, len(self.body), step)]


@dataclass
class RawResponse:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class AsgiClient:
    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self.app = app
        self.portal = portal

    def run(self, requests: Sequence[RawRequest]) -> list[RawResponse]:
        return self.portal.call(self._run_all, requests)

    async def _run_all(self, requests: Sequence[RawRequest]) -> list[RawResponse]:
        return [await self._one(request) for request in requests]

    async def _one(self, request: RawRequest) -> RawResponse:
        headers = list(request.headers)
        if not request.chunked and request.method not in ("GET", "HEAD"):
            headers.append((b"content-length", str(len(request.body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.path.encode(),
            "root_path": "",
            "query_string": request.query,
            "headers": [(name.lower(), value) for name, value in headers],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        pieces = request.chunks()
        response = RawResponse()

        async def receive() -> dict[str, Any]:
            if pieces:
                body = pieces.pop(0)
                return {"type": "http.request", "body": body, "more_body": bool(pieces)}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status = message["status"]
                response.headers = {
                    name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in message.get("headers", [])
                }
            elif message["type"] == "http.response.body":
                response.body += message.get("body", b"")

        await self.app(scope, receive, send)
        return response


@contextmanager
def asgi_client(app: Any) -> Iterator[AsgiClient]:
    with start_blocking_portal() as portal:
        yield AsgiClient(app, portal)
