"""The simulator's state: the order engine plus the control operations tests use.

Usable without HTTP: `SimState(SimulatorConfig(manual_clock=True))`, then `add()`,
`status()`, `advance()`, `records()`...
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from smmpanel.simulator.catalog import Service
from smmpanel.simulator.engine import Engine
from smmpanel.simulator.models import (
    CANCELED,
    COMPLETED,
    IN_PROGRESS,
    ORDER_ACTIVE,
    PENDING,
    Cancel,
    Order,
    Refill,
    money,
)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


_SERVICE_FIELDS: dict[str, Callable[[Any], Any]] = {
    "name": str,
    "type": str,
    "category": str,
    "rate": lambda v: Decimal(str(v)),
    "min": int,
    "max": int,
    "dripfeed": _flag,
    "refill": _flag,
    "cancel": _flag,
    "needs_link": _flag,
}


class SimState(Engine):
    """Everything the simulator knows, behind one lock."""

    # ---------------------------------------------------------------- forcing
    def set_order(
        self,
        order_id: int,
        *,
        status: str | None = None,
        remains: int | None = None,
        start_count: int | None = None,
    ) -> Order:
        """Force an order's fields; it then stops moving by itself (it is frozen).

        Money follows the forced status: Partial refunds `remains`, Canceled the whole charge.
        Raises KeyError for an unknown order.
        """
        with self.lock:
            now = self._now()
            order = self._order(order_id, now)
            if order is None:
                raise KeyError(order_id)
            if order.status == IN_PROGRESS and not order.frozen:
                order.remains = self.view(order, now).remains
            order.frozen = True
            if status is not None:
                order.status = status
                order.finished = None if status in ORDER_ACTIVE else now
                if remains is None and status == COMPLETED:
                    order.remains = 0
                if remains is None and status == CANCELED:
                    order.remains = order.quantity
            if remains is not None:
                order.remains = remains
            if start_count is not None:
                order.start_count = start_count
            self._settle(order)
            self._sync_active(order)
            return order

    def set_refill(self, refill_id: int, status: str) -> Refill:
        with self.lock:
            refill = self.refills[refill_id]
            refill.status, refill.frozen = status, True
            self._open_refills.discard(refill_id)
            return refill

    def set_cancel(self, cancel_id: int, status: str) -> Cancel:
        """Force a cancel request's status (the order itself is left as it is)."""
        with self.lock:
            cancel = self.cancels[cancel_id]
            cancel.status, cancel.frozen = status, True
            order = self.orders[cancel.order]
            if status != PENDING and order.cancel_id == cancel_id:
                order.cancel_id = None
                self._sync_active(order)
            return cancel

    def set_balance(self, balance: Decimal) -> Decimal:
        with self.lock:
            self.balance = money(Decimal(balance))
            return self.balance

    # ---------------------------------------------------------------- catalog
    def remove_service(self, service_id: int) -> Service:
        """Take a service out of the catalog (existing orders keep going). KeyError if absent."""
        with self.lock:
            return self.catalog.pop(service_id)

    def update_service(self, service_id: int, **changes: Any) -> Service:
        """Change fields of a service, or add it when the id is new (needs every field)."""
        with self.lock:
            converted = {}
            for name, value in changes.items():
                if name not in _SERVICE_FIELDS:
                    raise ValueError(f"unknown service field {name!r}")
                converted[name] = _SERVICE_FIELDS[name](value)
            current = self.catalog.get(service_id)
            if current is None:
                service = Service(id=service_id, **converted)
            else:
                service = current.with_changes(**converted)
            self.catalog[service_id] = service
            return service

    def reset_catalog(self) -> None:
        with self.lock:
            self.catalog = {s.id: s for s in self.config.catalog}

    def services(self) -> list[Service]:
        with self.lock:
            return [self.catalog[sid] for sid in sorted(self.catalog)]

    # ---------------------------------------------------------------- records
    def records(self, **filters: Any) -> list[dict[str, Any]]:
        """Every accepted order as a dict, optionally filtered by equality on Order fields
        (`link`, `service`, `status`, `request_id`, `parent`, `kind`)."""
        with self.lock:
            self.refresh_all()
            link = filters.pop("link", None)
            ids = self._by_link.get(link, []) if link is not None else sorted(self.orders)
            result = []
            for order_id in ids:
                order = self.orders[order_id]
                if all(getattr(order, k) == v for k, v in filters.items()):
                    wall = self.clock.wall(order.created).isoformat()
                    result.append(order.record(wall))
            return result

    def refill_records(self) -> list[dict[str, Any]]:
        with self.lock:
            self.refresh_all()
            return [self.refills[rid].record() for rid in sorted(self.refills)]

    def cancel_records(self) -> list[dict[str, Any]]:
        with self.lock:
            self.refresh_all()
            return [self.cancels[cid].record() for cid in sorted(self.cancels)]

    def orders_per_link(self) -> dict[str, int]:
        """How many upstream orders each link received (to check "exactly one per order")."""
        with self.lock:
            return {link: len(ids) for link, ids in self._by_link.items()}

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "total": sum(self.requests.values()),
                "ids": dict(self.ids),
                "faults": dict(self.faults.fired),
                "orders": len(self.orders),
                "refills": len(self.refills),
                "cancels": len(self.cancels),
                "add_requests": sum(o.add_requests for o in self.orders.values()),
                "balance": str(money(self.balance)),
                "now": self.clock.now(),
            }

    def reset_stats(self) -> None:
        with self.lock:
            self.requests.clear()
            self.ids.clear()
            self.faults.fired.clear()
