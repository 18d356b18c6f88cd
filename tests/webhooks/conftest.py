"""A real HTTP receiver for webhook deliveries, served from a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from smmpanel.server import serve_in_thread


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; answers 500 to the first `fail_next` of them."""

    url: str = ""
    fail_next: int = 0
    received: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook_url(self, path: str = "hook") -> str:
        return f"{self.url}/{path}"

    async def handle(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        with self.lock:
            self.received.append(
                Delivery(request.url.path, {k.lower(): v for k, v in request.headers.items()}, body)
            )
            if self.fail_next > 0:
                self.fail_next -= 1
                return PlainTextResponse("try again", status_code=500)
        return PlainTextResponse("ok")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    app = Starlette(routes=[Route("/{path:path}", recv.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        recv.url = url
        yield recv
