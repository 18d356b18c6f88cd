"""The HTTP edge of /api/v2: text that is not Unicode text, bodies without a
length, methods other than GET and POST, paths around the endpoint and
multipart bodies.  Every answer is JSON, and none of these ever places an
order or moves money."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from smmpanel.api_v2.app import create_app
from smmpanel.db import Database
from smmpanel.server import serve_in_thread
from tests.api.helpers import ENDPOINT, answer, assert_ledger_consistent, balance_text
from tests.factories import Customer, make_customer, make_service

JSON_TYPE = {"Content-Type": "application/json"}
INCORRECT = "Incorrect request"
LONE = "\ud800"  # half of a UTF-16 surrogate pair: not a Unicode scalar value


def _json_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = json.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    return body


@pytest.fixture
def customer(db: Database) -> Customer:
    make_service(db, min_quantity=1, refill=True, cancel=True)
    make_service(db, name="Comments", type="Custom Comments", rate="8", min_quantity=1)
    return make_customer(db)


# --- text that is not text ---------------------------------------------------


def _surrogate_bodies(key: str) -> list[dict[str, Any]]:
    add = {"key": key, "action": "add", "service": 1, "link": "https://x.com/a", "quantity": 10}
    comments = {**add, "service": 2, "comments": f"one\ntwo{LONE}"}
    return [
        {"key": LONE, "action": "balance"},
        {"key": key + LONE, "action": "balance"},
        {"key": key, "action": f"add{LONE}"},
        {**add, "link": f"https://x.com/{LONE}"},
        comments,
        {**add, "request_id": f"r{LONE}"},
        {**add, "quantity": f"1{LONE}"},
        {"key": key, "action": "status", "order": LONE},
        {"key": key, "action": "status", "orders": f"1,{LONE}"},
        {"key": key, "action": "status", "orders": ["1", LONE]},
        {"key": key, "action": "refill", "order": LONE},
        {"key": key, "action": "refill", "orders": f"{LONE},2"},
        {"key": key, "action": "refill_status", "refills": f"1,{LONE}"},
        {"key": key, "action": "cancel", "orders": LONE},
        {"key": key, "action": "cancel", "cancels": f"1,{LONE}"},
        # In a name of the object, and deep inside a value.
        {"key": key, "action": "balance", LONE: 1},
        {"key": key, "action": "balance", "x": {"y": [LONE]}},
    ]


def test_lone_surrogates_anywhere_are_an_incorrect_request(
    db: Database, http: httpx.Client, customer: Customer
) -> None:
    for body in _surrogate_bodies(customer.key):
        # json.dumps writes the lone surrogate as the escape \ud800, as clients do.
        raw = json.dumps(body)
        assert "\\ud800" in raw
        response = http.post(ENDPOINT, content=raw, headers=JSON_TYPE)
        reply = _json_error(response, 200)
        assert reply["error"] == INCORRECT, (body, reply)
        assert "Unicode" in reply["detail"], reply
    # A surrogate *pair* is an ordinary character (U+1F600) and works.
    pair = json.dumps({"key": customer.key, "action": "balance", "note": "\ud83d\ude00"})
    assert "\\ud83d\\ude00" in pair
    assert answer(http.post(ENDPOINT, content=pair, headers=JSON_TYPE))["balance"] == "100.00000"
    assert balance_text(db, customer.id) == "100.00000"
    assert_ledger_consistent(db)


def test_nul_characters_are_an_incorrect_request(
    db: Database, http: httpx.Client, customer: Customer
) -> None:
    """NUL is refused at the edge: PostgreSQL cannot store it and no SMM value has one
    (Custom Comments with a NUL used to be stored and charged)."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    key = customer.key
    bodies = [
        f"key={key}&action=add&service=2&link=https://x.com/n&comments=a%00b",
        f"key={key}&action=add&service=1&link=https://x.com/n%00&quantity=10",
        f"key={key}&action=balance&x%00=1",
    ]
    for body in bodies:
        reply = _json_error(http.post(ENDPOINT, content=body, headers=form), 200)
        assert reply["error"] == INCORRECT, (body, reply)
    as_json = json.dumps({"key": key, "action": "status", "orders": "1,\x002"})
    assert _json_error(http.post(ENDPOINT, content=as_json, headers=JSON_TYPE), 200)["error"] == (
        INCORRECT
    )
    query = http.get(ENDPOINT, params={"key": key, "action": "status", "order": "1\x00"})
    assert _json_error(query, 200)["error"] == INCORRECT
    assert balance_text(db, customer.id) == "100.00000"


def test_undecodable_bytes_in_forms_and_queries_are_replaced_not_fatal(
    db: Database, http: httpx.Client, customer: Customer
) -> None:
    """Percent-encoded UTF-8 of a surrogate (ED A0 80) or stray bytes decode to U+FFFD."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for encoded in ("%ED%A0%80", "%FF%FE", "%C3"):
        body = f"key={customer.key}&action=balance&x={encoded}"
        assert answer(http.post(ENDPOINT, content=body, headers=form))["balance"] == "100.00000"
        bad_key = http.post(ENDPOINT, content=f"key={encoded}&action=balance", headers=form)
        assert answer(bad_key) == {"error": "Invalid API key"}
        query = http.get(f"{ENDPOINT}?key={customer.key}&action=status&order={encoded}")
        assert answer(query) == {"error": "Incorrect order ID"}


# --- methods -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_post_act(
    db: Database, http: httpx.Client, customer: Customer, method: str
) -> None:
    """HEAD used to run the action: a HEAD `add` placed and charged an order."""
    params = {
        "key": customer.key,
        "action": "add",
        "service": "1",
        "link": f"https://x.com/{method}",
        "quantity": "100",
    }
    response = http.request(method, ENDPOINT, params=params, data=params)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.headers["content-type"].split(";")[0] == "application/json"
    if method != "HEAD":  # a HEAD answer has the headers of the body, never the body
        assert response.json() == {"error": "Method not allowed: use GET or POST"}
    # HEAD /healthz answers like GET (a harmless probe); the rest is refused in JSON.
    paths = (ENDPOINT + "/", "/api/v2/x") + (("/healthz",) if method != "HEAD" else ())
    for path in paths:
        other = http.request(method, path, params=params)
        assert other.status_code == (404 if path == "/api/v2/x" else 405), (path, other)
        assert other.headers["content-type"].split(";")[0] == "application/json"
    assert balance_text(db, customer.id) == "100.00000"
    assert answer(http.post(ENDPOINT, data={"key": customer.key, "action": "status", "order": 1}))[
        "error"
    ]


# --- paths ---------------------------------------------------------------------


def test_every_answer_is_json_and_never_redirects(
    db: Database, http: httpx.Client, customer: Customer
) -> None:
    query = {"key": customer.key, "action": "balance"}
    # The trailing slash is the endpoint itself: no redirect carrying the key.
    direct = http.get(ENDPOINT + "/", params=query)
    assert answer(direct)["balance"] == "100.00000"
    for path in ("/", "/api", "/api/v2/x", "/api/v2/x/y", "/api/v3", "/healthz/", "/api/v2//"):
        for method in ("GET", "POST"):
            response = http.request(method, path, params=query)
            assert not response.is_redirect, (path, response.headers.get("location"))
            assert response.status_code == 404, (path, response.status_code)
            assert response.headers["content-type"].split(";")[0] == "application/json"
            assert response.json() == {"error": "Not found"}
            assert customer.key not in response.text
            assert customer.key not in str(response.headers)
    # /healthz is JSON too: failing here, since no worker ever ran on this database.
    health = http.get("/healthz")
    assert health.status_code == 503
    assert health.headers["content-type"].split(";")[0] == "application/json"
    assert health.json()["checks"]["worker"]["ok"] is False


# --- bodies without a length ---------------------------------------------------


class CountingApp:
    """The panel's app, counting the request body bytes the app pulled in."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pulled = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            self.pulled += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


def _chunked_request(url: str, key: str, megabytes: int) -> tuple[int, bytes, int]:
    """POST a chunked body of `megabytes` MB over a raw socket (no Content-Length);
    returns (bytes sent before the server answered or closed, its answer, status)."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST {ENDPOINT} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    )
    chunk = b"x" * 65536
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        first = f"key={key}&action=balance&pad=".encode()
        sock.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        sock.settimeout(0.0)
        try:
            for _ in range(megabytes * 16):
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break  # the server answered
                except BlockingIOError:
                    pass
                sock.settimeout(30)
                sock.sendall(b"10000\r\n" + chunk + b"\r\n")
                sent += len(chunk)
                sock.settimeout(0.0)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after its answer
        sock.settimeout(30)
        received = b""
        while b"\r\n\r\n" not in received or not received.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            received += data
    status = int(received.split(b" ", 2)[1])
    return sent, received.split(b"\r\n\r\n", 1)[1], status


def test_a_body_without_length_is_read_only_up_to_the_limit(
    db: Database, customer: Customer
) -> None:
    """A 200 MB chunked body used to be read whole (~500 MB resident) before the
    size check; now reading stops at the limit."""
    limit = 1_000_000
    counting = CountingApp(create_app(db, max_body=limit))
    with serve_in_thread(counting) as url:  # type: ignore[arg-type]
        sent, body, status = _chunked_request(url, customer.key, 200)
    assert status == 413
    assert json.loads(body) == {"error": "Request body too large"}
    # The limit is checked as each piece arrives; a piece is what uvicorn has
    # buffered (up to its 64 KiB high-water mark plus one 256 KiB socket read).
    assert counting.pulled <= limit + 320 * 1024, counting.pulled
    # The 413 closes the connection, which stops the upload (the rest was in buffers).
    assert sent < 50 * 1024 * 1024, sent


def test_a_chunked_body_under_the_limit_works(db: Database, customer: Customer) -> None:
    with serve_in_thread(create_app(db)) as url, httpx.Client(base_url=url) as client:

        def pieces() -> Any:
            yield f"key={customer.key}&".encode()
            yield b"action=balance"

        response = client.post(ENDPOINT, content=pieces(), headers=FORM_TYPE)
        assert "content-length" not in response.request.headers
        assert answer(response)["balance"] == "100.00000"


FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


# --- multipart/form-data ----------------------------------------------------------

# What PHP's cURL sends for curl_setopt($ch, CURLOPT_POSTFIELDS, $array): libcurl's
# boundary (24 dashes and 16 hex digits), CRLF line ends, one part per field.
PHP_BOUNDARY = "------------------------b2a6e7c1f0d94a3e"


def php_curl_multipart(fields: dict[str, str], files: dict[str, str] | None = None) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{PHP_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    for name, filename in (files or {}).items():
        parts.append(
            f'--{PHP_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\nfile text\r\n'
        )
    return ("".join(parts) + f"--{PHP_BOUNDARY}--\r\n").encode("utf-8")


MULTIPART = {"Content-Type": f"multipart/form-data; boundary={PHP_BOUNDARY}"}


def test_multipart_bodies_as_php_curl_sends_them(
    db: Database, http: httpx.Client, customer: Customer
) -> None:
    """PHP cURL given an array sends multipart/form-data; it used to be read as a
    urlencoded body and answered "Invalid API key"."""
    balance = php_curl_multipart({"key": customer.key, "action": "balance"})
    response = http.post(ENDPOINT, content=balance, headers={**MULTIPART, "Expect": "100-continue"})
    assert answer(response) == {"balance": "100.00000", "currency": "USD"}
    comments = "Nice post\r\nGreat work!\nSuper 👍 ü"
    add = {
        "key": customer.key,
        "action": "add",
        "service": "2",
        "link": "https://x.com/multi",
        "comments": comments,
    }
    assert answer(http.post(ENDPOINT, content=php_curl_multipart(add), headers=MULTIPART)) == {
        "order": 1
    }
    status = answer(http.post(ENDPOINT, content=php_curl_multipart(
        {"key": customer.key, "action": "status", "order": "1"}), headers=MULTIPART))  # fmt: skip
    assert (status["remains"], status["charge"]) == ("3", "0.02400")
    # A quoted boundary, and httpx's own multipart encoder, are read the same way.
    quoted = {"Content-Type": f'multipart/form-data; boundary="{PHP_BOUNDARY}"'}
    assert answer(http.post(ENDPOINT, content=balance, headers=quoted))["balance"] == "99.97600"
    own = http.post(ENDPOINT, files={"key": (None, customer.key), "action": (None, "balance")})
    assert answer(own)["balance"] == "99.97600"


def test_multipart_refusals(db: Database, http: httpx.Client, customer: Customer) -> None:
    fields = {"key": customer.key, "action": "balance"}
    with_file = php_curl_multipart(fields, files={"upload": "a.txt"})
    refused = answer(http.post(ENDPOINT, content=with_file, headers=MULTIPART))
    assert refused["error"] == INCORRECT
    assert "file" in refused["detail"] and "text fields" in refused["detail"]
    unreadable: list[tuple[dict[str, str], bytes]] = [
        ({"Content-Type": "multipart/form-data"}, php_curl_multipart(fields)),  # no boundary
        (MULTIPART, b"--" + PHP_BOUNDARY.encode() + b"\r\nno headers end"),
        (MULTIPART, php_curl_multipart(fields).replace(b"form-data; name", b"form-data; nom")),
        (MULTIPART, php_curl_multipart({f"f{n}": "x" for n in range(1001)})),
    ]
    for headers, body in unreadable:
        reply = answer(http.post(ENDPOINT, content=body, headers=headers))
        assert reply["error"] == INCORRECT, (body[:80], reply)
        assert reply["detail"], reply
    assert balance_text(db, customer.id) == "100.00000"
