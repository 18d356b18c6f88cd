"""forward states: only known forwarding states; order events record their moves

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values of ForwardState when this revision was written (a migration does
# not follow later changes of the code).
_STATES = ("queued", "sending", "accepted", "reconcile", "rejected", "failed", "parent")
_KNOWN = "forward_state IS NULL OR forward_state IN ({})".format(
    ", ".join(f"'{state}'" for state in _STATES)
)


def upgrade() -> None:
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_forward", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("to_forward", sa.String(length=16), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f("ck_orders_order_forward_state_known"), sa.text(_KNOWN)
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_orders_order_forward_state_known"), type_="check")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_column("to_forward")
        batch_op.drop_column("from_forward")
