"""Request bodies read with a bound: for the API and the gateways' webhooks,
which both refuse a body past their limit without reading it all."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request


class BodyTooLarge(Exception):
    """The body passed the limit (declared or as it arrived)."""


async def read_body(request: Request, limit: int, *, declared: str | None = None) -> bytes:
    """The body, read as it arrives and refused as soon as it passes `limit`
    (a chunked body has no Content-Length to check first).  `declared`: the
    Content-Length header, when the caller has read it already.  Disconnect:
    Starlette's ClientDisconnect."""
    if declared is None:
        declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    if "_body" in request.__dict__ or request._stream_consumed:
        return await request.body()  # read before (by a middleware): kept by Starlette
    # ASGI's messages read directly: Starlette's stream() is an async generator,
    # which costs more than the read of a small body itself.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            request._stream_consumed = True
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
