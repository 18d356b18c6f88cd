"""payments: gateways' setup, deposits and their history

Revision ID: 0014
Revises: 0013

- ``payment_gateways``: one row per gateway the owner has set up (enabled, its
  settings as JSON with secret values sealed);
- ``deposits``: money a customer sends through a gateway, its state, what it
  credits (fixed when made) and what the gateway reported; the gateway's
  payment id unique per gateway;
- ``deposit_events``: every change (and every duplicate or out-of-order
  event) with its actor and the raw payload.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = "'created', 'pending', 'paid', 'held', 'failed', 'expired', 'rejected', 'reversed'"


def upgrade() -> None:
    op.create_table(
        "payment_gateways",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_payment_gateways")),
    )
    op.create_table(
        "deposits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("credit_amount", sa.BigInteger(), nullable=False),
        sa.Column("account_currency", sa.String(length=8), nullable=False),
        sa.Column("bonus_amount", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("redirect_url", sa.String(length=2000), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("paid_amount", sa.BigInteger(), nullable=True),
        sa.Column("paid_currency", sa.String(length=8), nullable=True),
        sa.Column("owed_amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_deposits_deposit_state_known")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_deposits_deposit_amount_positive")),
        sa.CheckConstraint("credit_amount > 0", name=op.f("ck_deposits_deposit_credit_positive")),
        sa.CheckConstraint(
            "bonus_amount >= 0", name=op.f("ck_deposits_deposit_bonus_not_negative")
        ),
        sa.CheckConstraint("owed_amount >= 0", name=op.f("ck_deposits_deposit_owed_not_negative")),
        sa.CheckConstraint("paid_amount >= 0", name=op.f("ck_deposits_deposit_paid_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_deposits_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposits")),
        sa.UniqueConstraint("gateway", "external_id", name="uq_deposits_gateway_external_id"),
    )
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.create_index("ix_deposits_state_updated", ["state", "updated_at"], unique=False)
        batch_op.create_index("ix_deposits_account_id_id", ["account_id", "id"], unique=False)

    op.create_table(
        "deposit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deposit_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("gateway_event_id", sa.String(length=255), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deposit_id"], ["deposits.id"], name=op.f("fk_deposit_events_deposit_id_deposits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_events")),
    )
    with op.batch_alter_table("deposit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deposit_events_deposit_id"), ["deposit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deposit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_events_deposit_id"))
    op.drop_table("deposit_events")
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.drop_index("ix_deposits_account_id_id")
        batch_op.drop_index("ix_deposits_state_updated")
    op.drop_table("deposits")
    op.drop_table("payment_gateways")
