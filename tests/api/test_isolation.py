"""Nothing about another account leaks; dead keys and suspended accounts are
refused; id lists are capped at 100.  Every id-taking action, in its single and
list forms, with ids of every kind (orders, refills, cancels) mixed: another
account's ids answer exactly as ids that exist nowhere."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from sqlalchemy import select

from smmpanel.accounts.models import Account
from smmpanel.accounts.service import rotate_api_key, set_account_options
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.orders.models import Cancel, Order, Refill
from smmpanel.orders.service import update_order
from tests.api.helpers import TRANSPORTS, Api
from tests.factories import make_customer, make_service
from tests.figures import backend, report

INVALID_KEY = {"error": "Invalid API key"}


def _swap(answer: object, old: int, new: int) -> str:
    """An answer's JSON with one id replaced, to compare 'theirs' with 'missing'."""
    return json.dumps(answer).replace(f'"{old}"', f'"{new}"').replace(f": {old}", f": {new}")


def test_other_accounts_ids_answer_like_missing_ones(db: Database, http: httpx.Client) -> None:
    alice = make_customer(db)
    bob = make_customer(db, "bob")
    make_service(db, min_quantity=1, refill=True, cancel=True)
    a, b = Api(http, alice.key), Api(http, bob.key)
    assert a("add", service=1, link="https://x.com/1", quantity=10) == {"order": 1}
    assert a("add", service=1, link="https://x.com/2", quantity=10) == {"order": 2}
    update_order(db, order_id=1, status="Completed")
    assert a("refill", order=1) == {"refill": "1"}
    assert a("cancel", order=2) == [{"order": 2, "type": "order", "cancel": 1}]

    missing = 999
    calls = [
        ("status", {"order": "{}"}),
        ("status", {"orders": "{}"}),
        ("refill", {"order": "{}"}),
        ("refill", {"orders": "{}"}),
        ("refill_status", {"refill": "{}"}),
        ("refill_status", {"refills": "{}"}),
        ("cancel", {"order": "{}"}),
        ("cancel", {"orders": "{}"}),
        ("cancel", {"cancels": "{}"}),
    ]
    # Order 1 is Completed with a refill, order 2 Pending with a cancel: for
    # Bob both are simply not there, whatever state they are in.
    for theirs in (1, 2):
        for action, params in calls:
            asked = {k: v.format(theirs) for k, v in params.items()}
            control = {k: v.format(missing) for k, v in params.items()}
            got = b(action, **asked)
            assert "error" in json.dumps(got), (action, got)
            expected = json.dumps(b(action, **control))
            assert _swap(got, theirs, missing) == expected, (theirs, action, got)
    assert b("cancel", orders="2") == [{"order": 2, "cancel": {"error": "Incorrect order ID"}}]
    # Bob's attempts changed nothing of Alice's.
    assert a("status", order=2)["status"] == "Pending"
    assert a("refill_status", refill=1) == {"status": "Pending"}
    assert a("cancel", cancels=1) == [{"cancel": 1, "status": "Pending"}]
    assert b("balance")["balance"] == "100.00000"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_dead_keys(db: Database, http: httpx.Client, transport: str) -> None:
    alice = make_customer(db)
    api = Api(http, alice.key, transport)
    assert api("balance")["balance"] == "100.00000"

    set_account_options(db, username="alice", status="suspended")
    for action in ("balance", "services", "add", "status"):
        assert api(action, service=1, order=1) == INVALID_KEY
    set_account_options(db, username="alice", status="active")
    assert api("balance")["balance"] == "100.00000"

    new_key = rotate_api_key(db, username="alice")
    for action in ("balance", "add", "status"):
        assert api(action, service=1, order=1) == INVALID_KEY
    assert Api(http, new_key, transport)("balance")["balance"] == "100.00000"
    # Keys are matched whole: a prefix, a different case or extra text fails.
    for wrong in (new_key[:-1], new_key.upper(), new_key + "x", "x" * 300):
        assert Api(http, wrong, transport)("balance") == INVALID_KEY
    # The key is checked before anything else the request gets wrong.
    nobody = Api(http, "no-such-key", transport)
    assert nobody("add") == INVALID_KEY
    assert nobody("add", service=1, request_id="") == INVALID_KEY
    assert nobody("status") == INVALID_KEY
    assert nobody("status", orders=",".join(str(n) for n in range(1, 102))) == INVALID_KEY
    assert nobody("no_such_action") == INVALID_KEY


def test_at_most_100_ids(db: Database, http: httpx.Client) -> None:
    alice = make_customer(db)
    api = Api(http, alice.key, "json")
    hundred = ",".join(str(n) for n in range(1, 101))
    too_many = hundred + ",101"
    answer = api("status", orders=hundred)
    assert len(answer) == 100 and answer["100"] == {"error": "Incorrect order ID"}
    assert len(api("refill", orders=hundred)) == 100
    assert len(api("refill_status", refills=hundred)) == 100
    assert len(api("cancel", orders=hundred)) == 100
    assert len(api("cancel", cancels=hundred)) == 100
    for action, name in (
        ("status", "orders"),
        ("refill", "orders"),
        ("refill_status", "refills"),
        ("cancel", "orders"),
        ("cancel", "cancels"),
    ):
        assert api(action, **{name: too_many}) == {"error": "Too many IDs (max 100)"}
        as_list = list(range(1, 102))
        assert api(action, **{name: as_list}) == {"error": "Too many IDs (max 100)"}
    # Repeated ids count once.
    assert len(api("status", orders=hundred + ",1,2,3")) == 100


# --- every id-taking action, ids of every kind mixed -------------------------------

ORDER_ERROR = {"error": "Incorrect order ID"}
# (action, parameter, the kind of id it takes, answers one entry per id)
ID_FORMS = [
    ("status", "order", "orders", False),
    ("status", "orders", "orders", True),
    ("refill", "order", "orders", False),
    ("refill", "orders", "orders", True),
    ("refill_status", "refill", "refills", False),
    ("refill_status", "refills", "refills", True),
    ("cancel", "order", "orders", True),  # answered as a list of one
    ("cancel", "orders", "orders", True),
    ("cancel", "cancels", "cancels", True),
]
# Orders 1-6, refills 1-3 and cancels 1-3 exist, so every number is an id of
# several kinds at once; the rest exist nowhere or cannot be ids.
ID_POOL = ["1", "2", "3", "4", "5", "6", "7", "999", "0", "-1", "x", "2147483648", "99999999999"]


def _shown(text: str) -> int | str:
    """An id as the answers echo it (as actions._id_out does)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else text


def _not_found(action: str, param: str, text: str) -> object:
    """The answer (single forms) or the entry (list forms) for an id that is not the caller's."""
    if action == "status":
        return ORDER_ERROR
    if action == "refill":
        return {"order": _shown(text), "refill": ORDER_ERROR} if param == "orders" else ORDER_ERROR
    if action == "refill_status":
        missing = {"error": "Refill not found"}
        return {"refill": _shown(text), "status": missing} if param == "refills" else missing
    if param == "cancels":
        return {"cancel": _shown(text), "status": {"error": "Cancel not found"}}
    return {"order": _shown(text), "cancel": ORDER_ERROR}


def _entries(param: str, answer: object, given: list[str], per_id: bool) -> list[object]:
    if not per_id:
        return [answer]
    if isinstance(answer, dict):  # status with `orders`: keyed by the id as given
        assert list(answer) == given, (given, answer)
        return [answer[text] for text in given]
    assert isinstance(answer, list) and len(answer) == len(given), (param, given, answer)
    return list(answer)


def _everything(db: Database) -> tuple[object, ...]:
    """Every order, refill, cancel, ledger entry and balance, to compare before and after."""
    tables = (Account.__table__, Order.__table__, Refill.__table__, Cancel.__table__,
              LedgerEntry.__table__)  # fmt: skip
    with db.read() as session:
        return tuple(
            sorted(tuple(map(str, row)) for row in session.execute(select(table)))
            for table in tables
        )


def test_every_id_action_with_ids_of_every_kind_mixed(db: Database, http: httpx.Client) -> None:
    make_service(db, min_quantity=1, refill=True, cancel=True)
    alice, bob = make_customer(db), make_customer(db, "bob")
    apis = {"alice": Api(http, alice.key), "bob": Api(http, bob.key)}
    for who, n in (("alice", 1), ("alice", 2), ("bob", 3), ("bob", 4), ("alice", 5), ("alice", 6)):
        assert apis[who]("add", service=1, link=f"https://x.com/{n}", quantity=10) == {"order": n}
    for order_id in (1, 3, 5):
        update_order(db, order_id=order_id, status="Completed")
    for who, order_id, refill_id in (("alice", 1, "1"), ("bob", 3, "2"), ("alice", 5, "3")):
        assert apis[who]("refill", order=order_id) == {"refill": refill_id}
    for who, order_id in (("alice", 2), ("bob", 4), ("alice", 6)):
        assert apis[who]("cancel", orders=order_id)[0]["cancel"] in (1, 2, 3)
    own = {
        "alice": {"orders": {"1", "2", "5", "6"}, "refills": {"1", "3"}, "cancels": {"1", "3"}},
        "bob": {"orders": {"3", "4"}, "refills": {"2"}, "cancels": {"2"}},
    }
    before = _everything(db)
    rng = random.Random(7)
    calls = checked = 0
    for who, api in apis.items():
        for action, param, kind, per_id in ID_FORMS:
            single = not per_id or param == "order"
            mixes = [[text] for text in ID_POOL] if single else [
                rng.sample(ID_POOL, rng.randint(1, len(ID_POOL))) for _ in range(30)
            ]  # fmt: skip
            for given in mixes:
                transport = rng.choice(TRANSPORTS)
                value: object = ",".join(given)
                if transport == "json" and not single and rng.random() < 0.5:
                    value = [int(t) if t.isdigit() and len(t) < 12 else t for t in given]
                reply = Api(http, api.key, transport)(action, **{param: value})
                calls += 1
                for text, entry in zip(given, _entries(param, reply, given, per_id), strict=True):
                    expected = _not_found(action, param, text)
                    if text in own[who][kind]:
                        assert entry != expected, (who, action, param, text, entry)
                    else:
                        assert entry == expected, (who, action, param, text, entry)
                    checked += 1
    # Nobody's calls changed anything: every refill and cancel asked for was refused.
    assert _everything(db) == before
    suite = f"isolation/mixed-ids[{backend(db)}]"
    report(suite, calls=calls, ids_checked=checked, forms=len(ID_FORMS))
