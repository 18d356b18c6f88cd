"""The /api/v2 endpoint: a lean Starlette route.

One request = one hop to a worker thread, where authentication, the action and
the rendering of its answer run synchronously against the database (`add`
runs in batches by group commit, one hop per batch: group_add.py); the short
reads run on the event loop instead, when they need not wait: on SQLite's
plain connection (loop_reads.py), awaited on PostgreSQL's async connections
(loop_reads_pg.py).  Every refusal is HTTP 200 with {"error": ...}; only
transport problems get other codes (answers.py), and every answer, of any path
and method, is JSON.

Database work is admitted through two gates of SMMPANEL_DB_THREADS threads, one
for reads and one for writes, so that writers waiting on a lock never hold up
reads; a call that waits longer than the database's busy timeout for its gate,
or for the database itself, gets 503 with nothing done.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from time import perf_counter
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter, WouldBlock
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smmpanel.accounts.queries import authenticate, key_digest
from smmpanel.api_v2 import answers
from smmpanel.api_v2.actions import ACTIONS, KEYED_ACTIONS
from smmpanel.api_v2.answers import JSONAnswer
from smmpanel.api_v2.errors import INCORRECT_REQUEST, error_body
from smmpanel.api_v2.group_add import AddCommitter
from smmpanel.api_v2.loop_reads import LoopReads
from smmpanel.api_v2.loop_reads_pg import PgLoopReads
from smmpanel.api_v2.params import BadRequest, check_text, parse_body, parse_query, text_param
from smmpanel.api_v2.ratelimit import RateLimits, rate_limits_for
from smmpanel.bodies import BodyTooLarge, read_body
from smmpanel.config import Settings
from smmpanel.db import UNAVAILABLE_ERRORS, CommitOutcomeUnknown, Database, error_line
from smmpanel.errors import DomainError
from smmpanel.metrics.http import ops_routes
from smmpanel.metrics.recorder import PanelMetrics

log = logging.getLogger("smmpanel.api")

# Actions that write; the others only read.
WRITE_ACTIONS = frozenset({"add", "refill", "cancel"})
# Where respond leaves the action's name for the metrics (a key of the ASGI scope).
ACTION_KEY = "smmpanel.action"
# The paths of the API (api_routes), which PanelApp takes before its router.
API_PATHS = frozenset({"/api/v2", "/api/v2/"})


def handle(db: Database, params: dict[str, Any]) -> Any:
    """Authenticate and run one action; domain refusals become error bodies."""
    try:
        name = action_name(params)
        keyed = KEYED_ACTIONS.get(name)
        if keyed is not None:
            return keyed(db, key_digest(text_param(params, "key")), params)
        principal = authenticate(db, text_param(params, "key"))
        action = ACTIONS.get(name)
        if action is None:
            return {"error": INCORRECT_REQUEST, "detail": "unknown or missing action"}
        return action(db, principal, params)
    except DomainError as exc:
        return error_body(exc)


def action_name(params: dict[str, Any]) -> str:
    """The action as clients write it: trimmed, any case."""
    return (text_param(params, "action") or "").lower()


def answer_of(db: Database, params: dict[str, Any], run: Callable[..., Any] = handle) -> Response:
    """`handle` (or `run`, in its place: group_add's answers) and the rendering
    of its answer, inside the error handling: no action, whatever it meets, can
    answer anything but JSON."""
    try:
        return JSONAnswer(run(db, params))
    except CommitOutcomeUnknown as exc:
        log.warning(
            "database connection lost during commit (%s): %s", _named(params), error_line(exc)
        )
        return answers.outcome_unknown(db.busy_timeout)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("database unavailable (%s): %s", _named(params), error_line(exc))
        return answers.database_unavailable(db.busy_timeout)
    except Exception:
        log.exception("unhandled error in /api/v2 (%s)", _named(params))
        return answers.server_error()


def _named(params: dict[str, Any]) -> str:
    return f"action {action_name(params)[:20]!r}"


async def request_params(request: Request, max_body: int) -> dict[str, Any]:
    """Query string and body merged (the body wins); BadRequest or BodyTooLarge.

    Read from the ASGI scope itself: Starlette's `request.url` and `headers`
    build objects this needs three strings of (~6 us of a call's ~50 us)."""
    scope = request.scope
    query: bytes = scope.get("query_string", b"")
    # As request.url.query: up to a fragment; invalid UTF-8 as U+FFFD, not a 500.
    params = parse_query(query.decode("utf-8", "replace").partition("#")[0]) if query else {}
    headers = wanted_headers(scope)
    if scope["method"] == "POST":
        body = await read_body(request, max_body, declared=headers.get(b"content-length", ""))
        params.update(parse_body(body, headers.get(b"content-type", "")))
    header_key = headers.get(b"idempotency-key")
    if header_key and "request_id" not in params and action_name(params) == "add":
        params["request_id"] = header_key
    check_text(params)
    return params


_WANTED_HEADERS = frozenset({b"content-type", b"content-length", b"idempotency-key"})


def wanted_headers(scope: Scope) -> dict[bytes, str]:
    """The headers the API reads, by their lower-case name (ASGI servers send
    names in lower case); the first of each, as Starlette's `headers.get`."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _WANTED_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found


class ApiEndpoint:
    """/api/v2 as an ASGI app: every method reaches it (Starlette would answer
    HEAD by running GET, and other methods in plain text), only GET and POST act."""

    def __init__(
        self,
        db: Database,
        *,
        max_body: int,
        threads: int,
        rate_limits: RateLimits,
        metrics: PanelMetrics | None = None,
    ) -> None:
        self.db = db
        self.max_body = max_body
        self.rate_limits = rate_limits
        self.metrics = metrics or panel_metrics()
        # Few threads run the database work: with 16 in flight on two cores, GIL
        # switching cut in-process throughput from ~970 to ~540 calls/s (measured).
        self.reads = CapacityLimiter(threads)
        self.writes = CapacityLimiter(threads)
        self.threads = CapacityLimiter(2 * threads)  # never the one that waits
        self.adds = AddCommitter(
            db,
            answer=answer_of,
            gate=self.writes,
            threads=self.threads,
            on_batch=self.metrics.add_batch,
        )
        # Short reads on the event loop: SQLite's on a plain connection
        # (loop_reads.py), PostgreSQL's awaited on async ones (loop_reads_pg.py).
        self.loop_reads = LoopReads(db) if db.is_sqlite else None
        self.pg_reads = None if db.is_sqlite else PgLoopReads(db, size=threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)
        self.metrics.api_call(
            scope.get(ACTION_KEY),
            response.status_code,
            getattr(response, "answer", None),
            perf_counter() - started,
        )

    async def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return answers.method_not_allowed()
        try:
            params = await request_params(request, self.max_body)
        except BodyTooLarge:
            return answers.body_too_large()
        except BadRequest as exc:
            return JSONAnswer({"error": INCORRECT_REQUEST, "detail": str(exc)})
        except ClientDisconnect:
            return JSONAnswer({"error": INCORRECT_REQUEST, "detail": "the body ended early"})
        name = request.scope[ACTION_KEY] = action_name(params)
        caller = await self.rate_limits.admit(request, params)
        if caller.refusal is not None:
            return caller.refusal
        response: Response | None = None
        if name == "add":
            response = await self.adds.add(params)  # by group commit
        elif self.loop_reads is not None:
            response = self.loop_reads.answer(name, params)
        elif self.pg_reads is not None:
            response = await self.pg_reads.answer(name, params)
        if response is None:
            response = await self._answer(name, params)
        await self.rate_limits.settle(caller, getattr(response, "answer", None))
        return response

    async def _answer(self, name: str, params: dict[str, Any]) -> Response:
        """The answer of a thread: behind the read or the write gate."""
        gate = self.writes if name in WRITE_ACTIONS else self.reads
        if not await self._admitted(gate):
            return answers.database_unavailable(self.db.busy_timeout)
        try:
            return await anyio.to_thread.run_sync(answer_of, self.db, params, limiter=self.threads)
        finally:
            gate.release()

    async def aclose(self) -> None:
        """Close the loop's own connections (at the app's shutdown)."""
        if self.pg_reads is not None:
            await self.pg_reads.aclose()

    async def _admitted(self, gate: CapacityLimiter) -> bool:
        """A place at the gate, waited for no longer than the database's busy
        timeout (then nothing has started: the call can be refused safely)."""
        try:
            gate.acquire_nowait()
            return True
        except WouldBlock:
            pass
        admitted = False
        with anyio.move_on_after(self.db.busy_timeout):
            await gate.acquire()
            admitted = True
        return admitted


class PanelApp(Starlette):
    """The panel's Starlette app, with /api/v2 taken before its middleware
    and router: the endpoint answers every failure of its own in JSON, and
    Starlette's two middlewares, its router and its exception wrapper cost
    ~10 us of a `balance` call's ~64 us in-process (bench/bench_asgi.py).
    A path under a root_path (a proxy's prefix) goes the usual way, and so
    does every call once a middleware has been added (`add_middleware`, a
    test's recorder): it sees every call, as Starlette promises.  An error
    that escapes the endpoint (a bug) is answered as Starlette's error
    middleware would answer it: a JSON 500, then raised for uvicorn to log."""

    def __init__(self, endpoint: ApiEndpoint, **options: Any) -> None:
        super().__init__(**options)
        self.api_endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in API_PATHS
            or scope.get("root_path")
            or self.user_middleware  # added with add_middleware: it sees every call
        ):
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.api_endpoint(scope, receive, sending)
        except Exception:
            if not started:
                await answers.server_error()(scope, receive, send)
            raise


def panel_metrics() -> PanelMetrics:
    """The metrics of one server process, knowing the API's actions."""
    return PanelMetrics(actions=[*ACTIONS, *KEYED_ACTIONS])


def api_routes(
    db: Database,
    *,
    max_body: int = 1_000_000,
    workers: int = 4,
    rate_limits: RateLimits | None = None,
    metrics: PanelMetrics | None = None,
) -> list[Route]:
    endpoint = ApiEndpoint(
        db,
        max_body=max_body,
        threads=workers,
        rate_limits=rate_limits or RateLimits(),
        metrics=metrics,
    )
    return [Route(path, endpoint) for path in sorted(API_PATHS)]


def create_app(
    db: Database,
    *,
    max_body: int = 1_000_000,
    workers: int | None = None,
    settings: Settings | None = None,
    web: ASGIApp | None = None,
    admin: ASGIApp | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    metrics: PanelMetrics | None = None,
) -> Starlette:
    """The panel's ASGI app.  `workers`: threads running database work at once,
    for reads and again for writes (default SMMPANEL_DB_THREADS); `settings`
    (default: from the environment) chooses them and the rate limits.  `web`:
    the customer pages (smmpanel.web, built by smmpanel.server), mounted at /
    as their own app so that their middleware never runs for /api/v2; without
    it every other path answers a JSON 404.  `extra_routes`: other machine-facing
    routes (the payment gateways' webhooks), beside /api/v2 and like it outside
    the pages' middleware, their errors answered in JSON.  `admin`: the staff
    pages, mounted at /admin as their own app (their own session cookie and
    middleware).  `metrics`: the process's (default: new ones), read at
    /metrics; /healthz checks the database, its migrations and the worker."""
    settings = settings or Settings()
    metrics = metrics or panel_metrics()
    workers = workers or settings.db_threads
    rate_limits = rate_limits_for(settings, db)

    async def not_found(_request: Request) -> Response:
        raise HTTPException(404)

    async def to_admin_home(_request: Request) -> Response:
        return RedirectResponse("/admin/", status_code=308)

    api = api_routes(
        db, max_body=max_body, workers=workers, rate_limits=rate_limits, metrics=metrics
    )
    routes: list[BaseRoute] = [*api, *ops_routes(db, settings, metrics), *extra_routes]
    if admin is not None:
        routes += [Route("/admin", to_admin_home), Mount("/admin", app=admin)]
    if web is not None:
        # Under /api every path stays the API's: a JSON 404, never a page.
        routes += [Route("/api", not_found), Mount("/api", routes=[])]
        routes.append(Mount("/", app=web))
    endpoint = api[0].endpoint
    assert isinstance(endpoint, ApiEndpoint)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await endpoint.aclose()  # the connections of the loop's reads

    app = PanelApp(
        endpoint,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: answers.http_error,
            Exception: answers.unhandled_error,
        },
    )
    # A redirect to the path with(out) its slash would echo the query string,
    # API key included, in its Location header.
    app.router.redirect_slashes = False
    return app
