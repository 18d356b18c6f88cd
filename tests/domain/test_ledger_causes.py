"""Ledger causes are stored idempotency keys: their spelling never changes."""

from __future__ import annotations

from smmpanel.ledger import causes


def test_causes_keep_their_stored_spelling() -> None:
    assert causes.order_charge(7) == "charge:order:7"
    assert causes.order_refund(7) == "refund:order:7"
    assert causes.order_settlement(7) == "settle:order:7"


def test_causes_of_different_orders_and_kinds_differ() -> None:
    builders = (causes.order_charge, causes.order_refund, causes.order_settlement)
    made = {build(order_id) for build in builders for order_id in (1, 2, 12)}
    assert len(made) == 9
