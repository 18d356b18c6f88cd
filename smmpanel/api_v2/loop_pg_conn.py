"""One connection of the event loop's PostgreSQL reads (loop_reads_pg.py):
statements prepared once, run on psycopg's libpq connection and awaited on
the loop's own selector.

psycopg's `AsyncConnection` makes, checks and closes the connection; its
statements run here, on `connection.pgconn` (psycopg's documented libpq
layer), because `AsyncConnection.execute` cost ~56 us of CPU per `balance`
read and this ~16 us (its cursor, query conversion and generator machinery;
bench in docs/benchmarks.md, "PostgreSQL's short reads on the event loop").
Rows are made by psycopg's own loaders (`Transformer`), so their values are
what a cursor would give.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection, pq
from psycopg.adapt import Transformer

_DONE = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)


class LoopConnection:
    """An open autocommit connection and what was prepared on it.  One call at
    a time (the pool hands it to one read)."""

    def __init__(self, connection: AsyncConnection[Any]) -> None:
        self.connection = connection
        self.pgconn = connection.pgconn
        self._prepared: set[bytes] = set()
        self._rows = Transformer(connection)

    @property
    def idle(self) -> bool:
        """Open, and outside a transaction, with nothing in flight."""
        return (
            not self.connection.closed
            and self.pgconn.transaction_status == pq.TransactionStatus.IDLE
        )

    async def rows(self, name: bytes, sql: bytes, values: Sequence[bytes | None]) -> list[Any]:
        """The rows of statement `name` (`sql`, $n placeholders, prepared on
        first use) with `values` in text form; psycopg.Error when it fails."""
        if name not in self._prepared:
            self.pgconn.send_prepare(name, sql)
            await self._results()
            self._prepared.add(name)
        self.pgconn.send_query_prepared(name, values)
        result = await self._results()
        self._rows.set_pgresult(result)
        return self._rows.load_rows(0, result.ntuples, tuple)

    async def _results(self) -> pq.abc.PGresult:
        """The command's result, once the connection is ready for the next."""
        pgconn = self.pgconn
        while pgconn.flush():  # the rest of a command larger than the socket's buffer
            await self._ready(writable=True)
        found = None
        while True:
            pgconn.consume_input()
            if pgconn.is_busy():
                await self._ready()
                continue
            result = pgconn.get_result()
            if result is None:
                break
            if found is None:
                found = result
        if found is None or found.status not in _DONE:
            message = found.error_message if found is not None else pgconn.error_message
            raise psycopg.OperationalError(message.decode(errors="replace").strip())
        return found

    async def _ready(self, *, writable: bool = False) -> None:
        """Wait until the socket can be read (or written)."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = self.pgconn.socket
        watch, unwatch = (
            (loop.add_writer, loop.remove_writer)
            if writable
            else (loop.add_reader, loop.remove_reader)
        )
        watch(fd, settle, ready, None)
        try:
            await ready
        finally:
            unwatch(fd)

    def drop(self) -> None:
        """Closed at once, without a round trip (the server may not answer)."""
        if not self.connection.closed:
            self.pgconn.finish()


def settle(future: asyncio.Future[Any], result: Any) -> None:
    """Give `future` its result, unless it has one already (or was cancelled)."""
    if not future.done():
        future.set_result(result)
