"""secrets: room for encrypted provider keys and webhook secrets

Revision ID: 0003
Revises: 0002

Encrypted values ("enc1:" and a Fernet token) are longer than the plain
ones.  The values themselves are not touched: a migration has no key.  Values
stored before are read as they are until `smmpanel secrets rotate` encrypts
them.  Downgrading needs the webhook secrets to fit 128 characters again,
which encrypted ones do not: remove the webhooks (or restore a backup) first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.alter_column(
            "api_key",
            existing_type=sa.String(length=500),
            type_=sa.String(length=1024),
            existing_nullable=False,
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column(
            "webhook_secret",
            existing_type=sa.String(length=128),
            type_=sa.String(length=255),
            existing_nullable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column(
            "webhook_secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=128),
            existing_nullable=True,
        )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.alter_column(
            "api_key",
            existing_type=sa.String(length=1024),
            type_=sa.String(length=500),
            existing_nullable=False,
        )
