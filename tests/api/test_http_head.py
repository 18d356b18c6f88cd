"""The servers' HTTP parser (smmpanel/http_protocol.py): httptools, with the
request head bounded as h11 bounded it.  A head over MAX_HEAD_BYTES, whether
it came whole or never ends, is refused with 431 in JSON and the connection
closed; heads under it, bodies of any allowed size, keep-alive and
pipelined requests are served as before."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from smmpanel.http_protocol import MAX_HEAD_BYTES, BoundedHttpToolsProtocol
from smmpanel.server import serve_in_thread


async def _echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"body": len(body), "headers": len(request.headers)})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    with serve_in_thread(Starlette(routes=[Route("/", _echo, methods=["GET", "POST"])])) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def _connect(server: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(server, timeout=5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_answers(sock: socket.socket, count: int) -> list[tuple[int, dict[str, int]]]:
    """`count` answers of a keep-alive connection: status and JSON body."""
    answers: list[tuple[int, dict[str, int]]] = []
    buffer = b""
    while len(answers) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode()
            length = int(
                next(
                    line.split(":")[1]
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length")
                )
            )
            end = head_end + 4 + length
            if len(buffer) >= end:
                status = int(head.split()[1])
                answers.append((status, json.loads(buffer[head_end + 4 : end])))
                buffer = buffer[end:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(answers)} answers"
        buffer += chunk
    return answers


def _request(headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = ["POST / HTTP/1.1", "Host: test", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _assert_refused(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head[:100]
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"error": "Request header too large"}


def test_the_servers_run_the_bounded_parser() -> None:
    from smmpanel.http_protocol import HTTP_PROTOCOL

    assert HTTP_PROTOCOL is BoundedHttpToolsProtocol


def test_a_head_over_the_bound_in_one_write_is_refused(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        sock.sendall(_request([("X-Big", "a" * (MAX_HEAD_BYTES + 1))]))
        _assert_refused(_read_all(sock))


def test_many_small_headers_over_the_bound_are_refused(server: tuple[str, int]) -> None:
    headers = [(f"X-{n}", "v" * 8) for n in range(MAX_HEAD_BYTES // 10 + 10)]
    with _connect(server) as sock:
        sock.sendall(_request(headers))
        _assert_refused(_read_all(sock))


def test_a_head_that_never_ends_is_refused_without_waiting_for_its_end(
    server: tuple[str, int],
) -> None:
    """One header line sent in pieces and never finished: the parser keeps it in
    its own buffer, so only the bytes received bound it."""
    with _connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nX-Endless: ")
        sent = 0
        refused = b""
        while sent < 10 * MAX_HEAD_BYTES:
            try:
                sock.sendall(b"a" * 4096)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 4096
            time.sleep(0.002)
            sock.setblocking(False)
            try:
                refused = sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if refused:
                break
        answer = refused + _read_all(sock) if refused else _read_all(sock)
        _assert_refused(answer)
        assert sent <= MAX_HEAD_BYTES + 3 * 4096, sent


def test_a_head_under_the_bound_is_served(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        sock.sendall(_request([("X-Big", "a" * (MAX_HEAD_BYTES - 200))], b"x=1"))
        assert _read_answers(sock, 1) == [(200, {"body": 3, "headers": 3})]


def test_a_large_body_is_not_counted_as_head(server: tuple[str, int]) -> None:
    body = b"b" * (20 * MAX_HEAD_BYTES)
    with _connect(server) as sock:
        sock.sendall(_request([("X-Small", "1")], body))
        assert _read_answers(sock, 1) == [(200, {"body": len(body), "headers": 3})]


def test_each_request_of_a_connection_has_the_whole_bound(server: tuple[str, int]) -> None:
    """Keep-alive requests, each with a head of 3/4 of the bound: together far
    over it, each under it."""
    big = ("X-Big", "a" * (MAX_HEAD_BYTES * 3 // 4))
    with _connect(server) as sock:
        for n in range(4):
            sock.sendall(_request([big], b"n" * n))
            assert _read_answers(sock, 1) == [(200, {"body": n, "headers": 3})]


def test_pipelined_requests_are_answered_in_order(server: tuple[str, int]) -> None:
    big = ("X-Big", "a" * (MAX_HEAD_BYTES // 2))
    with _connect(server) as sock:
        sock.sendall(b"".join(_request([big], b"x" * n) for n in (1, 2, 3)))
        assert [body["body"] for _, body in _read_answers(sock, 3)] == [1, 2, 3]


def test_the_panel_refuses_a_large_head_in_json(panel_url: str) -> None:
    """The panel's own server (serve_in_thread, as the tests' servers) runs it:
    and a client library sees a JSON error, as for every answer of the API."""
    answer = httpx.post(
        f"{panel_url}/api/v2",
        data={"action": "balance", "key": "k"},
        headers={"X-Big": "a" * (MAX_HEAD_BYTES + 1)},
    )
    assert answer.status_code == 431
    assert answer.json() == {"error": "Request header too large"}
