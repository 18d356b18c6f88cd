"""A small in-memory panel speaking docs/api.md exactly, as a responder of PanelServer.

Orders 1..299 exist from the start with statuses that cycle through the six
order statuses; ``add`` creates orders from 1000 on, deduplicated by
``request_id``; refills and cancels get ids from 5000 and 7000 on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .panel_server import Received, Reply

KEY = "sk-test-9f3a7c21d4e8b6"
STATUSES = ("Pending", "In progress", "Processing", "Completed", "Partial", "Canceled")
PRESET_ORDERS = range(1, 300)
PRESET_REFILLS = range(1, 300)
PRESET_CANCELS = range(1, 300)
REFILL_STATUSES = ("Pending", "In progress", "Completed", "Rejected", "Error")
CANCEL_STATUSES = ("Pending", "Completed", "Rejected")

SERVICES = [
    {
        "service": 1,
        "name": "Followers",
        "type": "Default",
        "rate": "0.90000",
        "min": "50",
        "max": "10000",
        "dripfeed": True,
        "refill": True,
        "cancel": False,
        "category": "Instagram Followers",
    },
    {
        "service": 2,
        "name": "Comments",
        "type": "Custom Comments",
        "rate": "8.00000",
        "min": "10",
        "max": "15000",
        "dripfeed": False,
        "refill": False,
        "cancel": True,
        "category": "Instagram Comments",
    },
    {
        "service": 3,
        "name": "Poll votes",
        "type": "Poll",
        "rate": "0.00090",
        "min": "100",
        "max": "100000",
        "dripfeed": False,
        "refill": False,
        "cancel": False,
        "category": "Twitter Polls",
    },
    {
        "service": 4,
        "name": "Auto likes",
        "type": "Subscriptions",
        "rate": "1.25000",
        "min": "100",
        "max": "5000",
        "dripfeed": False,
        "refill": False,
        "cancel": True,
        "category": "Instagram Likes",
    },
]


def money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP))


@dataclass
class Order:
    order_id: int
    status: str
    charge: Decimal
    start_count: int
    remains: int
    params: dict[str, str]


class FakePanel:
    """The API's happy paths and its error messages, thread-safe."""

    def __init__(self, balance: Decimal = Decimal("100.84292")) -> None:
        self.balance = balance
        self.orders: dict[int, Order] = {
            i: Order(i, STATUSES[i % 6], Decimal(i) * Decimal("0.00123"), i * 10, i % 50, {})
            for i in PRESET_ORDERS
        }
        self.by_request_id: dict[str, int] = {}
        self.add_delays: list[float] = []  # seconds to sleep on the next add calls
        self.refills: dict[int, str] = {i: REFILL_STATUSES[i % 5] for i in PRESET_REFILLS}
        self.cancels: dict[int, str] = {i: CANCEL_STATUSES[i % 3] for i in PRESET_CANCELS}
        self.refilled: set[int] = set()
        self.created = 0
        self._next = {"order": 1000, "refill": 5000, "cancel": 7000}
        self._lock = threading.Lock()

    def _new_id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def __call__(self, request: Received) -> Reply:
        params = request.params
        if params.get("key") != KEY:
            return Reply({"error": "Invalid API key"})
        action = params.get("action")
        if request.ids and len(request.ids) > 100:
            return Reply({"error": "Too many IDs (max 100)"})
        with self._lock:
            if action == "services":
                return Reply(SERVICES)
            if action == "balance":
                return Reply({"balance": money(self.balance), "currency": "USD"})
            if action == "add":
                return self._add(params)
            if action == "status" and "order" in params:
                return Reply(self._status(int(params["order"])))
            if action == "status" and "orders" in params:
                return Reply({str(i): self._status(i) for i in request.ids})
            if action == "refill" and "order" in params:
                answer = self._refill(int(params["order"]))
                return Reply(answer if "error" in answer else {"refill": str(answer["refill"])})
            if action == "refill" and "orders" in params:
                return Reply([self._refill_entry(i) for i in request.ids])
            if action == "refill_status" and "refill" in params:
                refill_id = int(params["refill"])
                if refill_id not in self.refills:
                    return Reply({"error": "Refill not found"})
                return Reply({"status": self.refills[refill_id]})
            if action == "refill_status" and "refills" in params:
                return Reply([{"refill": i, **self._refill_status(i)} for i in request.ids])
            if action == "cancel" and "orders" in params:
                return Reply([self._cancel(i) for i in request.ids])
            if action == "cancel" and "cancels" in params:
                return Reply(
                    [
                        {"cancel": i, "status": self.cancels[i]}
                        if i in self.cancels
                        else {"cancel": i, "status": {"error": "Cancel not found"}}
                        for i in request.ids
                    ]
                )
        return Reply({"error": "Incorrect request"})

    def _add(self, params: dict[str, str]) -> Reply:
        delay = self.add_delays.pop(0) if self.add_delays else 0.0
        request_id = params.get("request_id")
        if request_id and request_id in self.by_request_id:
            return Reply({"order": self.by_request_id[request_id]})
        service = next((s for s in SERVICES if str(s["service"]) == params.get("service")), None)
        if service is None:
            return Reply({"error": "Incorrect service ID"})
        if service["type"] == "Custom Comments":
            quantity = len([line for line in params.get("comments", "").split("\n") if line])
        elif service["type"] == "Subscriptions":
            quantity = int(params.get("min", "0"))
        else:
            quantity = int(params.get("quantity", "0"))
        if quantity < int(str(service["min"])):
            return Reply({"error": f"Quantity less than minimal {service['min']}"})
        if quantity > int(str(service["max"])):
            return Reply({"error": f"Quantity more than maximum {service['max']}"})
        charge = (
            Decimal(str(service["rate"])) * quantity * int(params.get("runs", "1")) / 1000
        ).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
        if charge > self.balance:
            return Reply({"error": "Not enough funds on balance"})
        self.balance -= charge
        order_id = self._new_id("order")
        self.orders[order_id] = Order(order_id, "Pending", charge, 0, quantity, dict(params))
        self.created += 1
        if request_id:
            self.by_request_id[request_id] = order_id
        return Reply({"order": order_id}, delay=delay)

    def _status(self, order_id: int) -> dict[str, str]:
        order = self.orders.get(order_id)
        if order is None:
            return {"error": "Incorrect order ID"}
        return {
            "charge": money(order.charge),
            "start_count": str(order.start_count),
            "status": order.status,
            "remains": str(order.remains),
            "currency": "USD",
        }

    def _refill_entry(self, order_id: int) -> dict[str, object]:
        answer = self._refill(order_id)
        refill = answer["refill"] if "refill" in answer else {"error": answer["error"]}
        return {"order": order_id, "refill": refill}

    def _refill(self, order_id: int) -> dict[str, object]:
        order = self.orders.get(order_id)
        if order is None:
            return {"error": "Incorrect order ID"}
        if order.status != "Completed":
            return {"error": "Order not eligible for refill"}
        if order_id in self.refilled:
            return {"error": "Refill request was sent earlier"}
        self.refilled.add(order_id)
        refill_id = self._new_id("refill")
        self.refills[refill_id] = "Pending"
        return {"refill": refill_id}

    def _refill_status(self, refill_id: int) -> dict[str, object]:
        if refill_id not in self.refills:
            return {"status": {"error": "Refill not found"}}
        return {"status": self.refills[refill_id]}

    def _cancel(self, order_id: int) -> dict[str, object]:
        order = self.orders.get(order_id)
        if order is None:
            return {"order": order_id, "type": "order", "cancel": {"error": "Incorrect order ID"}}
        cancel_id = self._new_id("cancel")
        self.cancels[cancel_id] = "Pending"
        return {"order": order_id, "type": "order", "cancel": cancel_id}
