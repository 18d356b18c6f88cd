"""fulfilment waits: refunded amounts, waiting and failed forwards

Revision ID: 0004
Revises: 0003

- ``orders.refunded``: what was given back of each order's charge, filled
  from the refund entries already in the ledger;
- ``orders.waiting_since`` and ``orders.forward_error``: orders waiting on a
  provider, and why;
- orders stranded by a forward job that gave up before this revision (active,
  queued or sending, with no forward job left) become visible: queued ones
  ``failed`` (``smmpanel orders list --stuck``), sending ones ``reconcile``
  (their outcome is unknown; the reconcile schedule picks them up).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "('Pending', 'In progress', 'Processing')"
_NO_FORWARD_JOB = "NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.dedupe_key = 'forward:' || orders.id)"


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refunded", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("forward_error", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
    op.execute(
        "UPDATE orders SET refunded = COALESCE((SELECT SUM(amount) FROM ledger_entries "
        "WHERE ledger_entries.order_id = orders.id AND ledger_entries.kind = 'refund'), 0)"
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_orders_order_refunded"), "refunded >= 0 AND refunded <= charge"
        )
    op.execute(
        "UPDATE orders SET forward_state = 'failed', forward_error = "
        "'its forward job gave up before this upgrade' "
        f"WHERE forward_state = 'queued' AND status IN {_ACTIVE} AND {_NO_FORWARD_JOB}"
    )
    op.execute(
        "UPDATE orders SET forward_state = 'reconcile', forward_error = "
        "'its forward job gave up while sending, before this upgrade' "
        f"WHERE forward_state = 'sending' AND status IN {_ACTIVE} AND {_NO_FORWARD_JOB}"
    )


def downgrade() -> None:
    op.execute("UPDATE orders SET forward_state = 'queued' WHERE forward_state = 'failed'")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_orders_order_refunded"), type_="check")
        batch_op.drop_column("forward_error")
        batch_op.drop_column("waiting_since")
        batch_op.drop_column("refunded")
