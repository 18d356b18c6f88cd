"""What each queue's buttons do: one domain command per item, each in its own
transaction, so one refusal (a request closed meanwhile, a deposit paid by its
gateway) leaves the other items decided.  The commands write the audit rows,
with the staff member as the actor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from smmpanel.audit.models import Actor
from smmpanel.db import Database
from smmpanel.errors import DomainError
from smmpanel.orders.errors import CancelNotFound, InvalidStatusChange, RefillNotFound
from smmpanel.orders.models import REFILL_OPEN, REQUEST_COMPLETED, REQUEST_PENDING, REQUEST_REJECTED
from smmpanel.orders.queries import cancels_by_id, refills_by_id
from smmpanel.orders.queues import order_needing_staff
from smmpanel.orders.requests import resolve_cancel, resolve_refill
from smmpanel.payments.service import approve_deposit, reject_deposit
from smmpanel.providers.forwarding import resend_order
from smmpanel.providers.reconcile import adopt_upstream_order, cancel_unforwarded_order
from smmpanel.staff.roles import Permission
from smmpanel.web.forms_queues import Decision

# Kept in the order's history when staff cancel from the queue without a reason.
CANCEL_WHY = "canceled by staff: not sent to the provider"
# A summary lists at most this many refusals (it travels in the session cookie).
MAX_REFUSALS = 10
MAX_REFUSAL_TEXT = 200


@dataclass(frozen=True)
class Tab:
    name: str
    label: str  # an English msgid
    permission: Permission
    actions: tuple[str, ...]


TABS: dict[str, Tab] = {
    tab.name: tab
    for tab in (
        Tab("refills", "Refill requests", Permission.HANDLE_REQUESTS, ("approve", "reject")),
        Tab("cancels", "Cancel requests", Permission.HANDLE_REQUESTS, ("approve", "reject")),
        Tab("deposits", "Deposits to approve", Permission.MOVE_MONEY, ("approve", "reject")),
        Tab(
            "orders",
            "Orders to reconcile",
            Permission.CHANGE_ORDERS,
            ("resend", "cancel", "adopt"),
        ),
    )
}


@dataclass
class Summary:
    done: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)
    refused_count: int = 0

    def as_session(self) -> dict[str, object]:
        return {"done": self.done, "refused": self.refused, "count": self.refused_count}


Step = Callable[[Database, int, Decision, Actor], object]


def _still_open(db: Database, item: int, *, refill: bool) -> None:
    """A request decided already is refused here: the commands take setting the
    same status again as a no-op, which would only add an audit row."""
    what = "refill" if refill else "cancel"
    view = (refills_by_id if refill else cancels_by_id)(db, [item], account_id=None).get(item)
    if view is None:
        raise (RefillNotFound if refill else CancelNotFound)(f"{what.title()} not found")
    if view.status not in (REFILL_OPEN if refill else (REQUEST_PENDING,)):
        raise InvalidStatusChange(f"{what} {item} is {view.status} already")


def _refill(db: Database, item: int, decision: Decision, actor: Actor) -> None:
    _still_open(db, item, refill=True)
    status = REQUEST_COMPLETED if decision.action == "approve" else REQUEST_REJECTED
    resolve_refill(db, refill_id=item, status=status, actor=actor)


def _cancel(db: Database, item: int, decision: Decision, actor: Actor) -> None:
    _still_open(db, item, refill=False)
    status = REQUEST_COMPLETED if decision.action == "approve" else REQUEST_REJECTED
    resolve_cancel(db, cancel_id=item, status=status, actor=actor)


def _deposit(db: Database, item: int, decision: Decision, actor: Actor) -> object:
    if decision.action == "approve":
        return approve_deposit(db, deposit_id=item, actor=actor, note=decision.reason)
    return reject_deposit(db, deposit_id=item, actor=actor, reason=decision.reason)


def _order(db: Database, item: int, decision: Decision, actor: Actor) -> None:
    # Only what the queue lists: a queued order is on its way (cancel it from
    # its page), an accepted one must not be given another upstream id.
    if order_needing_staff(db, item) is None:
        raise InvalidStatusChange(f"order {item} does not wait for staff at its provider")
    if decision.action == "resend":
        resend_order(db, order_id=item, actor=actor)
    elif decision.action == "adopt":
        upstream = decision.upstream_ids[item]
        adopt_upstream_order(db, order_id=item, upstream_order_id=upstream, actor=actor)
    else:
        why = decision.reason or CANCEL_WHY
        cancel_unforwarded_order(db, order_id=item, why=why, actor=actor)


STEPS: dict[str, Step] = {
    "refills": _refill,
    "cancels": _cancel,
    "deposits": _deposit,
    "orders": _order,
}


def decide_each(db: Database, tab: Tab, decision: Decision, actor: Actor) -> Summary:
    """Run the decision on every item in turn (called in a worker thread)."""
    step = STEPS[tab.name]
    summary = Summary()
    for item in decision.ids:
        try:
            step(db, item, decision, actor)
        except DomainError as exc:
            summary.refused_count += 1
            if len(summary.refused) < MAX_REFUSALS:
                # English: the page translates it when it shows the summary.
                summary.refused.append((item, str(exc)[:MAX_REFUSAL_TEXT]))
        else:
            summary.done += 1
    return summary
