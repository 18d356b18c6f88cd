"""order list indexes: one customer's orders newest first, per status too

Revision ID: 0013
Revises: 0012

The customer web lists an account's orders by id descending, keyset-paged
(``WHERE account_id = ? [AND status = ?] AND id < ? ORDER BY id DESC LIMIT n``).
``(account_id, id)`` and ``(account_id, status, id)`` answer that from the index
order at any depth; the latter replaces ``(account_id, status)``, of which it is
a superset, so placing an order still maintains the same number of indexes plus one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_account_status")
        batch_op.create_index("ix_orders_account_status_id", ["account_id", "status", "id"])
        batch_op.create_index("ix_orders_account_id_id", ["account_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_account_id_id")
        batch_op.drop_index("ix_orders_account_status_id")
        batch_op.create_index("ix_orders_account_status", ["account_id", "status"])
