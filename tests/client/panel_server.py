"""A real HTTP server for the client tests: scripted answers, recorded requests.

:class:`PanelServer` serves ``/api/v2`` on a free 127.0.0.1 port from a
background thread (``ThreadingHTTPServer``, HTTP/1.1 keep-alive). Each request
is recorded (method, query, body parameters, headers) and answered by the
server's ``responder``: by default a :class:`~.fake_panel.FakePanel` speaking
the API of docs/api.md, or a :class:`Script` of recorded answers of other panels.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ID_PARAMS = ("orders", "order", "refills", "refill", "cancels")


@dataclass
class Reply:
    """An answer: ``body`` objects are sent as JSON, strings and bytes as they are."""

    body: Any = None
    status: int = 200
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    body_params: dict[str, str]
    headers: dict[str, str]
    content_type: str
    body: bytes
    json_body: Any = None
    peer: tuple[str, int] = ("", 0)

    @property
    def params(self) -> dict[str, str]:
        """Query and body parameters merged, the body winning (as docs/api.md says)."""
        return {**self.query, **self.body_params}

    @property
    def action(self) -> str:
        return self.params.get("action", "")

    @property
    def variant(self) -> str:
        """``action:id-parameter``, e.g. ``status:orders`` or ``cancel:cancels``."""
        for name in ID_PARAMS:
            if name in self.params:
                return f"{self.action}:{name}"
        return self.action

    @property
    def ids(self) -> list[int]:
        for name in ID_PARAMS:
            if name in self.params:
                return [int(part) for part in self.params[name].split(",") if part.strip()]
        return []


Responder = Callable[[Received], Reply]


class Script:
    """Answers per ``variant`` or ``action``; a list gives one reply per call, the last repeated."""

    def __init__(
        self,
        replies: Mapping[str, Reply | list[Reply] | Responder],
        fallback: Responder | None = None,
    ) -> None:
        self._replies = {key: list(v) if isinstance(v, list) else v for key, v in replies.items()}
        self._fallback = fallback
        self._lock = threading.Lock()

    def __call__(self, request: Received) -> Reply:
        for key in (request.variant, request.action):
            if key in self._replies:
                found = self._replies[key]
                if isinstance(found, list):
                    with self._lock:
                        return found.pop(0) if len(found) > 1 else found[0]
                if isinstance(found, Reply):
                    return found
                return found(request)
        if self._fallback is not None:
            return self._fallback(request)
        return Reply({"error": "Incorrect request"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        json_body: Any = None
        body_params: dict[str, str] = {}
        if content_type == "application/json" and body:
            json_body = json.loads(body)
            body_params = {key: str(value) for key, value in json_body.items()}
        elif body:
            body_params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        request = Received(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            body_params=body_params,
            headers={name.lower(): value for name, value in self.headers.items()},
            content_type=content_type,
            body=body,
            json_body=json_body,
            peer=(str(self.client_address[0]), int(self.client_address[1])),
        )
        reply = self.server.panel.answer(request)
        if reply.delay:
            time.sleep(reply.delay)
        payload = reply.payload()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up waiting (a timeout test)
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    panel: PanelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # connections the client dropped mid-answer


class PanelServer:
    """A panel on ``url`` answering with ``responder``; ``requests`` lists what it received."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Received] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.panel = self
        host, port = self._httpd.server_address[:2]
        self.base = f"http://{host!s}:{port}"
        self.url = f"{self.base}/api/v2"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> PanelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def answer(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
        try:
            return self.responder(request)
        except Exception as exc:  # a bug in a test's responder: make the test fail
            with self._lock:
                self.failures.append(repr(exc))
            return Reply(f"responder failed: {exc!r}", status=500, content_type="text/plain")

    def calls(self, action: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if action is None or r.action == action]
