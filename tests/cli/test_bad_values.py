"""Every command of `smmpanel` that takes a number or money, given bad values:
exit code 2, one `Error:` line on standard error, no traceback, and nothing
changed in the database.  (`users fund bob 1e30` and `1e14` printed tracebacks,
`currencies set ZZZ 1e30` was accepted and broke every `services` call.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from smmpanel.db import Base, Database
from smmpanel.orders.service import place_order
from tests import figures
from tests.cli.conftest import Run, invoke
from tests.factories import make_customer, make_service

BAD = ("1e30", "-1", "NaN", "Infinity", "1e-30", "abc", "", "0.123456", "99999999999999999999")
MAP = ("services", "map", "1", "--provider", "sim", "--upstream-service", "5")
ADD = ("services", "add", "--name", "X", "--category", "C")

# (command with {} for the value, the values of BAD it rightly accepts: tested
# elsewhere).  "-1" as a positional argument is an unknown option to click:
# a usage error with click's own text, also exit 2.
CASES: list[tuple[tuple[str, ...], frozenset[str]]] = [
    (("users", "fund", "alice", "{}"), frozenset({"-1"})),  # -1 deducts
    (("users", "set", "alice", "--rate", "1={}"), frozenset()),
    ((*ADD, "--rate", "{}", "--min", "1", "--max", "10"), frozenset()),
    ((*ADD, "--rate", "1", "--min", "{}", "--max", "10"), frozenset()),
    ((*ADD, "--rate", "1", "--min", "1", "--max", "{}"), frozenset()),
    ((*ADD, "--rate", "1", "--min", "1", "--max", "9", "--refill-days", "{}"), frozenset()),
    ((*ADD, "--rate", "1", "--min", "1", "--max", "9", "--id", "{}"), frozenset()),
    (("services", "set", "1", "--rate", "{}"), frozenset()),
    (("services", "set", "1", "--min", "{}"), frozenset()),
    (("services", "set", "1", "--max", "{}"), frozenset()),
    (("services", "set", "1", "--refill-days", "{}"), frozenset({""})),  # "": the default
    (("services", "set", "{}", "--disable"), frozenset({"-1"})),
    (("currencies", "set", "ZZZ", "{}"), frozenset({"0.123456"})),  # 6 places allowed
    (("settings", "set", "default_refill_days", "{}"), frozenset()),
    (("providers", "import", "sim", "--markup", "{}"), frozenset()),
    (("providers", "import", "sim", "--fixed", "{}"), frozenset()),
    (("providers", "import", "sim", "--round", "{}"), frozenset()),
    (
        ("providers", "add", "p", "https://p.example/api/v2", "k", "--timeout", "{}"),
        frozenset({"0.123456"}),
    ),
    ((*MAP, "--markup", "{}"), frozenset()),
    ((*MAP, "--fixed", "{}"), frozenset()),
    ((*MAP, "--round", "{}"), frozenset()),
    ((*MAP, "--priority", "{}"), frozenset()),
    (("services", "unmap", "{}", "--provider", "sim"), frozenset({"-1"})),
    (("orders", "update", "1", "--start-count", "{}"), frozenset()),
    (("orders", "update", "1", "--remains", "{}"), frozenset()),
    (("orders", "show", "{}"), frozenset({"-1"})),
    (("orders", "list", "--limit", "{}"), frozenset()),
    (("ledger", "list", "--limit", "{}"), frozenset()),
    (("refills", "list", "--limit", "{}"), frozenset()),
    (("cancels", "update", "{}", "--status", "Rejected"), frozenset({"-1"})),
    (("categories", "set", "Instagram", "--position", "{}"), frozenset()),
    (("providers", "reconcile", "--cancel", "{}"), frozenset()),
    (("alerts", "resolve", "{}"), frozenset({"-1"})),
    (("worker", "--once", "--poll", "{}"), frozenset({"0.123456"})),
    (("gateways", "set", "manual", "min={}"), frozenset({""})),  # "": back to the default
    (("gateways", "set", "manual", "max={}"), frozenset({""})),
    (("gateways", "set", "manual", "bonus=100:{}"), frozenset()),
    (("gateways", "set", "manual", "bonus={}:5"), frozenset()),
    (("deposits", "show", "{}"), frozenset({"-1"})),
    (("deposits", "approve", "{}"), frozenset({"-1"})),
    (("deposits", "list", "--limit", "{}"), frozenset()),
    (("simulate-provider", "--balance", "{}"), frozenset()),
    (("simulate-provider", "--speed", "{}"), frozenset({"1e-30", "0.123456"})),
    (("simulate-provider", "--fault", "partial:p={}"), frozenset({"1e-30", "0.123456"})),
]


def _snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for comparing before and after."""
    with db.read() as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def test_bad_values_exit_2_with_one_line_and_change_nothing(db: Database) -> None:
    customer = make_customer(db)
    make_service(db)
    place_order(
        db, account_id=customer.id, service_id=1, params={"link": "x.com/a", "quantity": 100}
    )
    before = _snapshot(db)
    problems: list[str] = []
    tried = 0
    for template, accepted in CASES:
        for value in BAD:
            if value in accepted:
                continue
            args = [part.replace("{}", value) for part in template]
            result = invoke(["--database-url", db.url, *args])
            tried += 1
            lines = result.stderr.splitlines()
            if (
                result.exit_code != 2
                or len(lines) != 1
                or not lines[0].startswith("Error: ")
                or "Traceback" in result.output
            ):
                problems.append(f"{args}: exit {result.exit_code}, stderr {result.stderr!r}")
            elif _snapshot(db) != before:
                problems.append(f"{args}: changed the database")
                before = _snapshot(db)
    figures.report(f"bad values [{figures.backend(db)}]", pairs_tried=tried, wrong=len(problems))
    assert problems == []
    assert tried > 300


def test_refusals_exit_1_and_bad_values_exit_2(run: Run, db: Database) -> None:
    """The rule of docs/admin-cli.md: a well-formed request the panel refuses
    exits 1, a value the command cannot take exits 2."""
    make_customer(db, balance="1")
    too_much = run("users", "fund", "alice", "-1.00001", code=1).stderr
    assert "never goes below zero" in too_much
    assert "no account 'bob'" in run("users", "fund", "bob", "5", code=1).stderr
    assert "no order 7" in run("orders", "show", "7", code=1).stderr
    assert "at most 5 decimal places" in run("users", "fund", "alice", "0.123456", code=2).stderr
    assert (
        "from -10000000000 to 10000000000" in run("users", "fund", "alice", "1e14", code=2).stderr
    )
    assert run("users", "fund", "alice", "0.12345").stdout.strip() == (
        "alice: +0.12345 USD, balance 1.12345 USD"
    )
