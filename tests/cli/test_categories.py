"""`smmpanel categories`: order, names and translations reach the API."""

from __future__ import annotations

import json

from smmpanel.accounts.queries import key_digest
from smmpanel.accounts.service import set_account_options
from smmpanel.api_v2.actions import services
from smmpanel.db import Database
from tests.cli.conftest import Run
from tests.factories import make_customer, make_service


def test_reorder_rename_and_translate(run: Run, db: Database) -> None:
    make_service(db, name="A", category="First")
    make_service(db, name="B", category="Second")
    listed = json.loads(run("categories", "list", "--json").stdout)
    assert [(c["name"], c["services"]) for c in listed] == [("First", 1), ("Second", 1)]
    run("categories", "set", "Second", "--position", "0", "--name", "Top", "--lang", "ru=Sverkhu")
    listed = json.loads(run("categories", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["Top", "First"]
    assert listed[0]["translations"] == {"ru": "Sverkhu"}
    customer = make_customer(db)
    set_account_options(db, username=customer.username, extended_fields=True)
    answer = json.loads(services(db, key_digest(customer.key), {}))
    assert [(s["name"], s["category"]) for s in answer] == [("B", "Top"), ("A", "First")]
    assert answer[0]["cat_lang"] == {"ru": "Sverkhu"}
    run("categories", "set", "Top", "--lang", "ru=")
    assert json.loads(run("categories", "list", "--json").stdout)[0]["translations"] == {}
    run("categories", "set", "Top", "--name", "First", ok=False)  # taken
    run("categories", "set", "Nope", "--position", "1", ok=False)
    run("categories", "set", "Top", code=2)  # nothing to change
