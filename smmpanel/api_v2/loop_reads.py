"""Short reads answered on the event loop, without the hop to a thread (SQLite).

`balance`, `status` and a kept `services` answer cost ~100-300 us of database
work on SQLite; the hop to a worker thread and back cost as much again, and
more under load (bench/bench_read_hop.py and bench/bench_api.py, measured in
docs/benchmarks.md, "Cheap reads").  So on SQLite they run on the loop.

A read on the loop must never wait: it holds up every other request of the
process meanwhile.  Its connections (an engine of their own) have a busy
timeout of 0, so a database that would make it wait answers "busy" at once,
and the call then goes the usual way, through the read gate to a thread that
waits up to the API's busy timeout (and answers 503 past it).  In WAL mode a
read waits only for a database in recovery or opened exclusively, so that is
rare.  A `services` answer not kept yet, whose list may take milliseconds,
is left to a thread too.

PostgreSQL keeps the hop: a read there is a network round trip, and a slow or
unreachable server would block the loop for the whole connect and statement
timeouts.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from smmpanel.accounts.queries import key_digest
from smmpanel.api_v2 import answers
from smmpanel.api_v2.actions import balance, kept_services, status
from smmpanel.api_v2.answers import JSONAnswer
from smmpanel.api_v2.errors import error_body
from smmpanel.api_v2.params import text_param
from smmpanel.api_v2.services_cache import share_cache
from smmpanel.db import UNAVAILABLE_ERRORS, Database
from smmpanel.errors import DomainError

log = logging.getLogger("smmpanel.api")

LOOP_ACTIONS = {"balance": balance, "status": status, "services": kept_services}


class LoopReads:
    """The loop's own engine of an SQLite database, never waiting for a lock."""

    def __init__(self, db: Database) -> None:
        self.db = Database(db.url, busy_timeout=0)
        share_cache(db, self.db)

    def answer(self, name: str, params: dict[str, Any]) -> Response | None:
        """The answer of action `name`, or None when it must go to a thread (not
        one of these, the database busy, or a `services` list not kept)."""
        action = LOOP_ACTIONS.get(name)
        if action is None:
            return None
        try:
            found = action(self.db, key_digest(text_param(params, "key")), params)
        except DomainError as exc:
            return JSONAnswer(error_body(exc))
        except UNAVAILABLE_ERRORS:
            return None  # a thread may wait for it, within the busy timeout
        except Exception:
            log.exception("unhandled error in /api/v2 (action %r)", name)
            return answers.server_error()
        return None if found is None else JSONAnswer(found)
