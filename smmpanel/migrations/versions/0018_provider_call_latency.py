"""provider call latency: how long each order sent to a provider took

Revision ID: 0018
Revises: 0017

``provider_calls.elapsed_ms``: the time from opening the provider's API to its
answer (or to the failure), for the admin's health view; NULL on the rows
written before it was recorded.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("provider_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("elapsed_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("provider_calls", schema=None) as batch_op:
        batch_op.drop_column("elapsed_ms")
