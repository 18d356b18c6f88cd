"""worker heartbeats, and provider calls by time

Revision ID: 0020
Revises: 0018

``worker_heartbeats``: one row per worker, its ``beat_at`` refreshed every few
seconds by the worker's loop; /healthz and /metrics read the freshest.
``ix_provider_calls_created_at``: /metrics reads the provider calls of the last
minutes at each scrape, which without it would scan the whole table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("provider_calls", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_calls_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_calls_created_at"))
    op.drop_table("worker_heartbeats")
