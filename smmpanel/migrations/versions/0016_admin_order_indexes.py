"""admin order list indexes: every order by status, by date, by upstream id

Revision ID: 0016
Revises: 0015

The web admin lists every customer's orders newest first, keyset-paged, with
filters (bench/bench_admin_orders.py, docs/benchmarks.md):

- ``(status, id)``: a status alone (the other filters have an index of their
  own, or are the customer's ``(account_id, status, id)``); without it a rare
  status walks the whole table backwards;
- ``(created_at)``: a date range far from today, which a walk from the
  newest order reaches only after every newer one;
- ``(provider_order_id)``: the search by an upstream order id (a number
  searched is matched against both ids, which two indexes answer at once).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status_id", ["status", "id"])
        batch_op.create_index("ix_orders_created_at", ["created_at"])
        batch_op.create_index("ix_orders_provider_order_id", ["provider_order_id"])


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_provider_order_id")
        batch_op.drop_index("ix_orders_created_at")
        batch_op.drop_index("ix_orders_status_id")
