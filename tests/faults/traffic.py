"""Client traffic for the fault tests, and the checks that nothing was lost.

`Traffic` runs client threads against a panel: orders, each with its own
request_id and sent again with the same one after a 503 or a broken connection
until it is answered (as a careful client does), and balance reads.  It records
every answer; `verify_orders` then checks the database directly.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from smmpanel.accounts.queries import account_balance
from smmpanel.db import Database
from smmpanel.ledger.models import LedgerEntry
from smmpanel.ledger.queries import find_balance_mismatches
from smmpanel.orders.models import IdempotencyKey, Order

TRANSPORT_ERROR = 0  # the status recorded when no HTTP answer came


@dataclass(frozen=True)
class Call:
    action: str
    status: int
    seconds: float
    phase: str


@dataclass
class Traffic:
    base_url: str
    key: str
    service: int
    threads: int = 4
    phase: str = "normal"
    calls: list[Call] = field(default_factory=list)
    answered: dict[str, int] = field(default_factory=dict)  # request_id -> order id
    not_json: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)
            assert not worker.is_alive(), "a client thread did not stop"

    def wait_for_orders(self, count: int, *, timeout: float = 30) -> float:
        """Wait until `count` more orders are answered; the seconds it took."""
        started = time.monotonic()
        target = len(self.answered) + count
        while len(self.answered) < target:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no {count} orders answered within {timeout} s")
            time.sleep(0.02)
        return time.monotonic() - started

    def by_status(self, phase: str | None = None) -> Counter[int]:
        return Counter(c.status for c in self.calls if phase in (None, c.phase))

    def slowest(self, status: int) -> float:
        return max((c.seconds for c in self.calls if c.status == status), default=0.0)

    def _run(self, n: int) -> None:
        pending: str | None = None  # a request_id still without an answer
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            for turn in itertools.count():
                if self._stop.is_set() and pending is None:
                    return
                if turn % 3 == 2 and pending is None:
                    self._call(client, {"action": "balance"})
                    continue
                request_id = pending or f"t{n}-{next(self._ids)}"
                link = f"https://fault.test/{request_id}"
                body = {"action": "add", "service": self.service, "quantity": 10,
                        "link": link, "request_id": request_id}  # fmt: skip
                answer = self._call(client, body)
                if isinstance(answer, dict) and "order" in answer:
                    with self._lock:
                        self.answered[request_id] = answer["order"]
                    pending = None
                else:
                    pending = request_id
                    time.sleep(0.05)  # do not spin against a panel that is down

    def _call(self, client: httpx.Client, body: dict[str, object]) -> object:
        phase = self.phase
        started = time.monotonic()
        try:
            response = client.post("/api/v2", data={"key": self.key, **body})
        except httpx.TransportError:
            self.calls.append(Call(str(body["action"]), TRANSPORT_ERROR, 0.0, phase))
            return None
        seconds = time.monotonic() - started
        self.calls.append(Call(str(body["action"]), response.status_code, seconds, phase))
        try:
            return json.loads(response.content)
        except ValueError:
            self.not_json.append(f"{response.status_code} {response.text[:200]}")
            return None


def verify_orders(db: Database, account_id: int, funded: int, answered: dict[str, int]) -> int:
    """Every request_id made exactly the order it was answered with, every order
    was charged exactly once, the balance is the funds less the charges, and the
    ledger is clean.  Returns the number of orders."""
    with db.read() as session:
        rows = session.execute(select(Order.id, Order.charge).where(Order.account_id == account_id))
        orders = {order_id: charge for order_id, charge in rows}
        charged_rows = session.execute(
            select(LedgerEntry.order_id, LedgerEntry.amount).where(
                LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge"
            )
        )
        # Charges always name their order.
        charges = [(int(order_id or 0), amount) for order_id, amount in charged_rows]
        keyed = session.execute(
            select(IdempotencyKey.key, IdempotencyKey.order_id).where(
                IdempotencyKey.account_id == account_id
            )
        )
        keys = {key: order_id for key, order_id in keyed}
    charged = Counter(order_id for order_id, _ in charges)
    assert set(charged) == set(orders) and set(charged.values()) <= {1}, charged
    assert all(-amount == orders[order_id] for order_id, amount in charges)
    assert keys == answered  # no order without its answer, no answer without its order
    assert sorted(int(v or 0) for v in keys.values()) == sorted(orders)
    balance, _ = account_balance(db, account_id)
    assert balance == funded - sum(orders.values())
    assert find_balance_mismatches(db) == []
    return len(orders)
