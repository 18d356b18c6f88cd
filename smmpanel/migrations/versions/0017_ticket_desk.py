"""Ticket desk: assignment, the answering staff member, canned answers

Revision ID: 0017
Revises: 0016

``support_tickets.assigned_staff_id``: the staff member looking after a ticket;
``support_messages.staff_name``: who answered from /admin; ``canned_answers``:
ready replies (title + text) staff insert into an answer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_staff_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_support_tickets_assigned_staff_id_staff"),
            "staff",
            ["assigned_staff_id"],
            ["id"],
        )
    with op.batch_alter_table("support_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_name", sa.String(length=64), nullable=True))
    op.create_table(
        "canned_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_answers")),
        sa.UniqueConstraint("title", name=op.f("uq_canned_answers_title")),
    )


def downgrade() -> None:
    op.drop_table("canned_answers")
    with op.batch_alter_table("support_messages", schema=None) as batch_op:
        batch_op.drop_column("staff_name")
    with op.batch_alter_table("support_tickets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_support_tickets_assigned_staff_id_staff"), type_="foreignkey"
        )
        batch_op.drop_column("assigned_staff_id")
