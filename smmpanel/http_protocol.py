"""The HTTP/1.1 protocol every server of the panel runs: uvicorn's httptools
(llhttp, in C) with the request head bounded.

Measured (docs/benchmarks.md, "HTTP: httptools with a bounded head"): with
uvicorn's pure-Python h11 parser, parsing and writing HTTP was most of the
server's CPU for a cheap call; httptools halves the bare route's cost and
gives `add` about a third more orders a second.  But uvicorn bounds the
request head only with h11 (`h11_max_incomplete_event_size`): with httptools
a client could send header lines, or one endless line, for ever and the
server would keep them all.  This protocol refuses a head larger than
MAX_HEAD_BYTES, complete or not, with 431 and closes the connection: the
bound h11 gave the panel before (16 KiB, uvicorn's default for it).

Every uvicorn server of the project is configured with `HTTP_PROTOCOL`, so
none falls back to uvicorn's choice ("auto" takes httptools unbounded
whenever it is installed).
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# As uvicorn's h11 default (h11_max_incomplete_event_size): the request line
# and every header, names and values, in bytes.
MAX_HEAD_BYTES = 16 * 1024

HEAD_TOO_LARGE = json.dumps({"error": "Request header too large"}, separators=(",", ":")).encode()


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops and reports a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, refusing request heads over MAX_HEAD_BYTES.

    Two counts, because the parser keeps a header it has not finished in its
    own buffer, out of our sight: the bytes received while a head is
    incomplete (`_head_bytes`, reset when a head ends and when a message
    ends, so a body never counts), and the exact size of the request line and
    headers as the parser hands them over (`_head_seen`), which catches a
    large head that arrived whole in one read.  A head that begins in the
    read that ended the previous message (pipelining) has the rest of that
    read uncounted: one read at most (asyncio reads 256 KiB at most), so its
    memory is bounded all the same, and no request is refused for a body."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_seen = 0
        self._refusing = False

    def data_received(self, data: bytes) -> None:
        if self._refusing:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self._refusing:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_seen = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a parser error; ours when the error is our refusal.
        if self._refusing:
            self._write_refusal()
        else:
            super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_seen += size
        if self._head_seen > MAX_HEAD_BYTES:
            self._refusing = True  # uvicorn's handler of the parser error answers
            raise HeadTooLarge

    def _refuse_head(self) -> None:
        self._refusing = True
        self._write_refusal()

    def _write_refusal(self) -> None:
        self.logger.warning("Request head over %d bytes refused.", MAX_HEAD_BYTES)
        lines = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            lines.append(name + b": " + value + b"\r\n")
        lines.append(b"content-type: application/json\r\n")
        lines.append(b"content-length: " + str(len(HEAD_TOO_LARGE)).encode() + b"\r\n")
        lines.append(b"connection: close\r\n\r\n")
        lines.append(HEAD_TOO_LARGE)
        self.transport.write(b"".join(lines))
        self.transport.close()


# For uvicorn.Config(http=...): a class, which uvicorn takes as it is (and
# pickles by reference to the processes of `serve --workers N`).
HTTP_PROTOCOL = BoundedHttpToolsProtocol
