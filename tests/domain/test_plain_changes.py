"""Which status changes are plain (applied in bulk by change_order_statuses):
exactly those change_order_status would make without moving money, touching
another order or refusing a value."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from smmpanel.orders.lifecycle import PlainChange, plain_change


def _row(**overrides: Any) -> SimpleNamespace:
    """An active order's columns as the sync's locking select reads them."""
    values: dict[str, Any] = dict(
        id=7,
        account_id=3,
        status="Pending",
        remains=100,
        start_count=None,
        total_quantity=100,
        kind="order",
        parent_id=None,
        charge=90,
        refunded=0,
        currency="USD",
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def test_a_change_without_money_is_plain_with_the_values_change_order_status_sets() -> None:
    change = plain_change(_row(), status="In progress", start_count=50, remains=80)
    assert change == PlainChange(
        order_id=7,
        account_id=3,
        from_status="Pending",
        status="In progress",
        start_count=50,
        remains=80,
        cost=90,
        currency="USD",
    )
    # Unknown values keep the last known; Completed has nothing left.
    row = _row(start_count=5, remains=60)
    kept = plain_change(row, status="Processing", start_count=None, remains=None)
    assert kept is not None and (kept.start_count, kept.remains) == (5, 60)
    done = plain_change(_row(refunded=10), status="Completed", start_count=None, remains=None)
    assert done is not None and (done.status, done.remains, done.cost) == ("Completed", 0, 80)


@pytest.mark.parametrize(
    ("row", "status", "start_count", "remains"),
    [
        (_row(), "Partial", None, 40),  # a refund
        (_row(), "Canceled", None, None),  # a refund
        (_row(status="Completed", remains=0), "Completed", 3, None),  # final: kept as it is
        (_row(status="Partial", remains=40), "In progress", None, None),  # final: refused
        (_row(kind="subscription"), "In progress", None, None),  # its posts are its hooks
        (_row(parent_id=1), "In progress", None, None),  # a run refreshes its parent
        (_row(), "Pending", -1, None),  # refused: negative start count
        (_row(), "In progress", None, 101),  # refused: more than the quantity
        (_row(), "Pending", None, 100),  # nothing changes
    ],
)
def test_other_changes_go_through_change_order_status(
    row: SimpleNamespace, status: str, start_count: int | None, remains: int | None
) -> None:
    assert plain_change(row, status=status, start_count=start_count, remains=remains) is None
