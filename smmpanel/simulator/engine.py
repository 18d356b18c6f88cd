"""The simulator's order engine: placement, progress over time, refills, cancels.

All public methods take the lock. Statuses move lazily: an order is brought up to the
current simulated instant whenever it is read, and `advance()`/`refresh_all()` bring every
order that can still change up to date. Events are applied in time order, so the result
does not depend on when (or how often) an order is looked at.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from smmpanel.simulator.catalog import DEFAULT, Service
from smmpanel.simulator.clock import SimClock
from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.faults import FaultRule, FaultSet
from smmpanel.simulator.models import (
    CANCELED,
    COMPLETED,
    IN_PROGRESS,
    ORDER_ACTIVE,
    PARTIAL,
    PENDING,
    REFILL_FINAL,
    REJECTED,
    Cancel,
    Order,
    OrderView,
    Refill,
    money,
)
from smmpanel.simulator.validation import ApiError, parse_int, validate_add

INCORRECT_SERVICE = "Incorrect service ID"
INCORRECT_ORDER = "Incorrect order ID"
NOT_ENOUGH_FUNDS = "Not enough funds on balance"
ACTIVE_LINK = "You have active order with this link. Please wait until order being completed."
REFILL_DISABLED = "Refill is disabled for this service"
CANCEL_DISABLED = "Cancel is disabled for this service"
NOT_ELIGIBLE = "Order not eligible for refill"
REFILL_EARLIER = "Refill request was sent earlier"
CANCEL_EARLIER = "Cancellation request was sent earlier"

_Event = tuple[float, Callable[[float, float], None]]


class Engine:
    """Orders, refills, cancels, balance, catalog, faults and request statistics."""

    def __init__(self, config: SimulatorConfig, clock: SimClock | None = None) -> None:
        self.config = config
        self.clock = clock or SimClock(scale=config.time_scale, manual=config.manual_clock)
        self.lock = threading.RLock()
        self.balance = money(Decimal(config.balance))
        self.catalog: dict[int, Service] = {s.id: s for s in config.catalog}
        self.seed = config.seed if config.seed is not None else random.getrandbits(32)
        self.faults = FaultSet(seed=self.seed)
        for rule in config.faults:
            self.faults.add(rule)
        self.orders: dict[int, Order] = {}
        self.refills: dict[int, Refill] = {}
        self.cancels: dict[int, Cancel] = {}
        self.requests: Counter[str] = Counter()
        self.ids: Counter[str] = Counter()
        self._by_request: dict[str, int] = {}
        self._by_link: dict[str, list[int]] = {}
        self._active_links: dict[tuple[int, str], set[int]] = {}
        self._active: set[int] = set()  # orders that may still change by themselves
        self._subscriptions: set[int] = set()  # running subscriptions (refreshed eagerly)
        self._open_refills: set[int] = set()
        self._next = {"order": 1, "refill": 1, "cancel": 1}

    # ---------------------------------------------------------------- helpers
    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _now(self) -> float:
        """The current instant, with running subscriptions brought up to it first, so child
        orders get their ids in time order whenever the state is looked at."""
        now = self.clock.now()
        while self._subscriptions:
            due: tuple[float, int] | None = None
            for sub_id in self._subscriptions:
                events = self._events(self.orders[sub_id])
                if events:
                    candidate = (min(event[0] for event in events), sub_id)
                    due = candidate if due is None else min(due, candidate)
            if due is None or due[0] > now:
                break
            self._refresh(self.orders[due[1]], due[0])
        return now

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def count(self, action: str, ids: int = 0) -> None:
        with self.lock:
            self.requests[action] += 1
            if ids:
                self.ids[action] += ids

    def service_of(self, params: dict[str, str]) -> Service:
        sid = parse_int(params.get("service"))
        service = self.catalog.get(sid) if sid is not None else None
        if service is None:
            raise ApiError(INCORRECT_SERVICE)
        return service

    # ---------------------------------------------------------------- add
    def add(
        self,
        params: dict[str, str],
        *,
        request_id: str | None = None,
        outcome: FaultRule | None = None,
    ) -> int:
        """Place an order; returns its id. A known `request_id` returns the first order."""
        with self.lock:
            if request_id and request_id in self._by_request:
                first = self.orders[self._by_request[request_id]]
                first.add_requests += 1
                return first.id
            service = self.service_of(params)
            placement = validate_add(service, params)
            charge = money(service.rate * placement.units / 1000)
            link = placement.link
            if (
                self.config.reject_duplicate_links
                and link
                and self._active_links.get((service.id, link))
            ):
                raise ApiError(ACTIVE_LINK)
            if charge > self.balance:
                raise ApiError(NOT_ENOUGH_FUNDS)
            now = self._now()
            order = Order(
                id=self._new_id("order"),
                service=service.id,
                type=service.type,
                kind=placement.kind,
                link=link,
                quantity=placement.quantity,
                units=placement.units,
                params=placement.params,
                request_id=request_id or None,
                rate=service.rate,
                charge=charge,
                created=now,
                can_refill=service.refill,
                can_cancel=service.cancel,
                remains=placement.quantity,
                subscription=placement.subscription,
            )
            if outcome is not None and order.kind != "subscription":
                order.outcome = outcome.kind
                fraction = outcome.fraction if outcome.fraction is not None else 0.5
                partial = max(1, round(order.quantity * fraction))
                order.partial_remains = min(order.quantity, partial)
            self.balance -= charge
            self._register(order)
            if order.subscription is not None:
                order.status = IN_PROGRESS
                old_posts = min(
                    order.subscription.old_posts, self.config.subscription_unlimited_posts
                )
                for number in range(old_posts):
                    self._make_post(order, now, now, f"old{number + 1}")
            self._refresh(order, now)
            return order.id

    def _register(self, order: Order) -> None:
        self.orders[order.id] = order
        if order.request_id:
            self._by_request[order.request_id] = order.id
        if order.link:
            self._by_link.setdefault(order.link, []).append(order.id)
            self._active_links.setdefault((order.service, order.link), set()).add(order.id)
        self._sync_active(order)

    def _sync_active(self, order: Order) -> None:
        moving = order.status in ORDER_ACTIVE and not order.frozen
        if moving or order.cancel_id is not None:
            self._active.add(order.id)
        else:
            self._active.discard(order.id)
        if order.subscription is not None and order.id in self._active:
            self._subscriptions.add(order.id)
        else:
            self._subscriptions.discard(order.id)
        if order.link and order.status not in ORDER_ACTIVE:
            self._active_links.get((order.service, order.link), set()).discard(order.id)

    # ---------------------------------------------------------------- progress
    def _refresh(self, order: Order, now: float) -> None:
        """Apply every event of `order` due at or before `now`, in time order."""
        while True:
            events = self._events(order)
            if not events:
                return
            when, apply = min(events, key=lambda event: event[0])
            if when > now:
                return
            apply(when, now)
            self._sync_active(order)

    def _events(self, order: Order) -> list[_Event]:
        events: list[_Event] = []
        if order.cancel_id is not None:
            cancel = self.cancels[order.cancel_id]
            if not cancel.frozen:
                due = cancel.created + self.config.cancel_stage
                events.append((due, lambda at, now: self._resolve_cancel(order, cancel, at)))
        if order.frozen or order.status not in ORDER_ACTIVE:
            return events
        if order.subscription is not None:
            events.extend(self._subscription_events(order))
            return events
        stage = self.config.speed
        if order.status == PENDING:
            events.append((order.created + stage, lambda at, now: self._start(order, at)))
        else:
            events.append((order.created + 2 * stage, lambda at, now: self._finish(order, at)))
        return events

    def _start(self, order: Order, at: float) -> None:
        if order.outcome == "cancel":
            self._set_final(order, CANCELED, at)
            return
        order.status = IN_PROGRESS
        order.start_count = self._rng("start", order.id).randint(100, 10000)

    def _finish(self, order: Order, at: float) -> None:
        if order.outcome == "partial":
            order.remains = order.partial_remains
            self._set_final(order, PARTIAL, at)
        else:
            order.remains = 0
            self._set_final(order, COMPLETED, at)

    def _set_final(self, order: Order, status: str, at: float) -> None:
        order.status = status
        order.finished = at
        if status == CANCELED and order.subscription is None:
            order.remains = order.quantity
        self._settle(order)

    def _settle(self, order: Order) -> None:
        """Make the refund match the status: Partial refunds remains, Canceled everything."""
        if order.subscription is not None:
            return
        target = Decimal(0)
        if order.status == CANCELED:
            target = order.charge
        elif order.status == PARTIAL and order.quantity:
            part = order.rate * order.remains * order.units / order.quantity / 1000
            target = min(order.charge, money(part))
        self.balance += target - order.refunded
        order.refunded = target

    def _resolve_cancel(self, order: Order, cancel: Cancel, at: float) -> None:
        order.cancel_id = None
        if order.status in ORDER_ACTIVE:
            self._set_final(order, CANCELED, at)
            cancel.status = COMPLETED
        else:
            cancel.status = REJECTED

    # ---------------------------------------------------------------- subscriptions
    def _subscription_events(self, sub: Order) -> list[_Event]:
        terms = sub.subscription
        assert terms is not None
        events: list[_Event] = []
        cap = terms.posts if terms.posts is not None else self.config.subscription_unlimited_posts
        if sub.posts_made < cap:
            due = (
                sub.created
                + terms.delay * 60
                + (sub.posts_made + 1) * (self.config.subscription_interval)
            )
            events.append((due, lambda at, now: self._new_post(sub, at, now)))
        if terms.expiry is not None:
            due = max(sub.created, (terms.expiry - self.clock.wall(0)).total_seconds())
            events.append((due, lambda at, now: self._set_final(sub, COMPLETED, at)))
        return events

    def _new_post(self, sub: Order, at: float, now: float) -> None:
        terms = sub.subscription
        assert terms is not None
        sub.posts_made += 1
        self._make_post(sub, at, now, str(sub.posts_made))
        if terms.posts is not None and sub.posts_made >= terms.posts:
            self._set_final(sub, COMPLETED, at)

    def _make_post(self, sub: Order, at: float, now: float, label: str) -> None:
        """Create the child order for one post of a subscription (charged now)."""
        terms = sub.subscription
        assert terms is not None
        quantity = self._rng("post", sub.id, label).randint(terms.min, terms.max)
        charge = money(sub.rate * quantity / 1000)
        if charge > self.balance:
            sub.skipped_posts += 1
            return
        child = Order(
            id=self._new_id("order"),
            service=sub.service,
            type=DEFAULT,
            kind="order",
            link=f"https://instagram.com/{terms.username}/p/post-{label}",
            quantity=quantity,
            units=quantity,
            params={"subscription": str(sub.id)},
            request_id=None,
            rate=sub.rate,
            charge=charge,
            created=at,
            can_refill=False,
            can_cancel=False,
            remains=quantity,
            parent=sub.id,
        )
        self.balance -= charge
        sub.charge += charge
        sub.children.append(child.id)
        self._register(child)
        self._refresh(child, now)

    # ---------------------------------------------------------------- reads
    def _order(self, order_id: int | None, now: float) -> Order | None:
        order = self.orders.get(order_id) if order_id is not None else None
        if order is not None:
            self._refresh(order, now)
        return order

    def view(self, order: Order, now: float) -> OrderView:
        remains = order.remains
        if order.subscription is not None:
            posts = order.subscription.posts
            remains = max(0, posts - order.posts_made) if posts is not None else 0
        elif order.status == IN_PROGRESS and not order.frozen:
            stage = self.config.speed
            done = int(order.quantity * (now - order.created - stage) / stage) if stage else 0
            remains = max(order.partial_remains, 1, order.quantity - done)
        return OrderView(
            id=order.id,
            charge=order.charge - order.refunded,
            start_count=order.start_count,
            status=order.status,
            remains=remains,
            currency=self.config.currency,
            children=list(order.children) if order.subscription is not None else None,
        )

    def status(self, order_id: int | None) -> OrderView | None:
        with self.lock:
            now = self._now()
            order = self._order(order_id, now)
            return self.view(order, now) if order is not None else None

    def statuses(self, order_ids: list[int | None]) -> list[OrderView | None]:
        with self.lock:
            now = self._now()
            result: list[OrderView | None] = []
            for order_id in order_ids:
                order = self._order(order_id, now)
                result.append(self.view(order, now) if order is not None else None)
            return result

    def order_kind(self, order_id: int | None) -> str:
        with self.lock:
            order = self.orders.get(order_id) if order_id is not None else None
            return order.kind if order is not None else "order"

    # ---------------------------------------------------------------- refills
    def refill(self, order_id: int | None) -> int:
        with self.lock:
            now = self._now()
            order = self._order(order_id, now)
            if order is None:
                raise ApiError(INCORRECT_ORDER)
            if not order.can_refill:
                raise ApiError(REFILL_DISABLED)
            if order.refill_id is not None:
                previous = self._refill(order.refill_id, now)
                if previous.status not in REFILL_FINAL:
                    raise ApiError(REFILL_EARLIER)
            if order.status not in (COMPLETED, PARTIAL):
                raise ApiError(NOT_ELIGIBLE)
            refill = Refill(self._new_id("refill"), order.id, now)
            self.refills[refill.id] = refill
            self._open_refills.add(refill.id)
            order.refill_id = refill.id
            self._refresh_refill(refill, now)
            return refill.id

    def _refill(self, refill_id: int, now: float) -> Refill:
        refill = self.refills[refill_id]
        self._refresh_refill(refill, now)
        return refill

    def _refresh_refill(self, refill: Refill, now: float) -> None:
        if refill.frozen or refill.status in REFILL_FINAL:
            self._open_refills.discard(refill.id)
            return
        stage = self.config.refill_stage
        elapsed = now - refill.created
        if elapsed >= 2 * stage:
            refill.status = COMPLETED
            self._open_refills.discard(refill.id)
        elif elapsed >= stage:
            refill.status = IN_PROGRESS

    def refill_status(self, refill_id: int | None) -> str | None:
        with self.lock:
            if refill_id is None or refill_id not in self.refills:
                return None
            return self._refill(refill_id, self._now()).status

    # ---------------------------------------------------------------- cancels
    def cancel(self, order_id: int | None) -> int:
        with self.lock:
            now = self._now()
            order = self._order(order_id, now)
            if order is None:
                raise ApiError(INCORRECT_ORDER)
            if not order.can_cancel:
                raise ApiError(CANCEL_DISABLED)
            if order.cancel_id is not None:
                raise ApiError(CANCEL_EARLIER)
            cancel = Cancel(self._new_id("cancel"), order.id, now)
            self.cancels[cancel.id] = cancel
            order.cancel_id = cancel.id
            self._sync_active(order)
            self._refresh(order, now)
            return cancel.id

    def cancel_status(self, cancel_id: int | None) -> str | None:
        with self.lock:
            cancel = self.cancels.get(cancel_id) if cancel_id is not None else None
            if cancel is None:
                return None
            self._order(cancel.order, self._now())
            return cancel.status

    # ---------------------------------------------------------------- clock
    def refresh_all(self) -> float:
        """Bring every order, refill and cancel that can still change up to now."""
        with self.lock:
            now = self._now()
            for order_id in sorted(self._active):
                self._refresh(self.orders[order_id], now)
            for refill_id in sorted(self._open_refills):
                self._refresh_refill(self.refills[refill_id], now)
            return now

    def advance(self, seconds: float) -> float:
        """Move the simulated clock forward and apply all progress; returns the new instant."""
        with self.lock:
            self.clock.advance(seconds)
            return self.refresh_all()
