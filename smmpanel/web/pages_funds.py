"""The funds pages: the balance and the ledger (filtered, keyset-paginated,
exported as CSV).  Adding funds is pages_deposits.py."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from smmpanel.db import Database
from smmpanel.ledger.models import ENTRY_KINDS
from smmpanel.ledger.queries import LedgerFilter, LedgerRow, account_ledger
from smmpanel.money import format_units
from smmpanel.web.pages import db_of, page, require_user

PAGE_SIZE = 50
CSV_BATCH = 1000
MAX_ID = 2**31 - 1
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Filters:
    """The ledger filters of the query string, as given (for the form and the
    links) and as the domain's LedgerFilter."""

    kind: str
    since: str
    until: str
    where: LedgerFilter


def read_filters(request: Request) -> Filters:
    """kind, from and to (dates, YYYY-MM-DD, `to` included) from the query
    string; a value that is not one is a 400 with the reason, never a 500."""
    params = request.query_params
    kind = params.get("kind", "").strip()[:16]
    if kind and kind not in ENTRY_KINDS:
        raise HTTPException(400, "Unknown kind of entry.")
    since, until = params.get("from", "").strip()[:10], params.get("to", "").strip()[:10]
    start, end = _day(since), _day(until)
    return Filters(
        kind=kind,
        since=since,
        until=until,
        where=LedgerFilter(
            kind=kind or None,
            since=start,
            until=None if end is None else end + timedelta(days=1),
        ),
    )


def _day(text: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, "A date is written YYYY-MM-DD.") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _before(request: Request) -> int | None:
    text = request.query_params.get("before", "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID + 1:
        raise HTTPException(400, "Not a page of this list.")
    return int(text)


async def funds(request: Request) -> Response:
    user = require_user(request)
    filters = read_filters(request)
    before = _before(request)
    rows = await run_in_threadpool(
        account_ledger,
        db_of(request),
        account_id=user.id,
        where=filters.where,
        before_id=before,
        limit=PAGE_SIZE + 1,
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    query = {
        key: value
        for key, value in {"kind": filters.kind, "from": filters.since, "to": filters.until}.items()
        if value
    }
    suffix = f"?{urlencode(query)}" if query else ""
    return page(
        request,
        "funds.html",
        {
            "entries": rows,
            "filters": filters,
            "kinds": ENTRY_KINDS,
            "query": query,
            "csv_link": f"/funds.csv{suffix}",
            "newest_link": f"/funds{suffix}",
            "older_link": f"/funds?{urlencode(query | {'before': rows[-1].id})}" if more else None,
            "paged": before is not None,
            "deposit_causes": {
                row.id: made for row in rows if (made := deposit_cause(row)) is not None
            },
            "deposit_words": DEPOSIT_WORDS,
        },
    )


# The causes of the entries a deposit makes (ledger/causes.py): its credit, its
# bonus and the debit of its reversal.
DEPOSIT_CAUSE = re.compile(r"(deposit|bonus:deposit|reversal:deposit):(\d{1,10})")
DEPOSIT_WORDS = {
    "deposit": "Deposit",
    "bonus:deposit": "Bonus on deposit",
    "reversal:deposit": "Reversal of deposit",
}


def deposit_cause(row: LedgerRow) -> tuple[str, int] | None:
    """(what, deposit id) for an entry a deposit made, else None."""
    found = DEPOSIT_CAUSE.fullmatch(row.cause or "")
    return (found[1], int(found[2])) if found else None


def cause_words(row: LedgerRow) -> str:
    """An entry's cause in (English) words, for the CSV."""
    made = deposit_cause(row)
    if made is not None:
        return f"{DEPOSIT_WORDS[made[0]].lower()} {made[1]}"
    if row.kind == "topup":
        return "top-up by the panel owner"
    if row.kind == "adjustment":
        return "adjustment by the panel owner"
    if row.order_id is not None:
        return f"{row.kind} for order {row.order_id}"
    return row.kind


def csv_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula
    gets a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


CSV_HEADER = ["id", "date", "kind", "amount", "balance_after", "currency", "order", "cause", "note"]


def csv_lines(db: Database, account_id: int, currency: str, where: LedgerFilter) -> Iterator[str]:
    """The whole filtered ledger, newest first, read in batches by keyset.
    Amounts are exact decimals (a negative amount is a number, not a formula);
    every text cell is made formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    before: int | None = None
    while True:
        rows = account_ledger(
            db, account_id=account_id, where=where, before_id=before, limit=CSV_BATCH
        )
        for row in rows:
            writer.writerow(
                [
                    row.id,
                    row.created_at.isoformat(timespec="seconds"),
                    row.kind,
                    format_units(row.amount),
                    format_units(row.balance_after),
                    csv_cell(currency),
                    row.order_id or "",
                    csv_cell(cause_words(row)),
                    csv_cell(row.note),
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < CSV_BATCH:
            return
        before = rows[-1].id


async def funds_csv(request: Request) -> Response:
    user = require_user(request)
    filters = read_filters(request)
    lines = csv_lines(db_of(request), user.id, user.currency, filters.where)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="funds.csv"',
            "cache-control": "no-store",
        },
    )


def routes() -> list[Route]:
    return [
        Route("/funds", funds),
        Route("/funds.csv", funds_csv),
    ]
