"""web accounts: passwords, session epochs, languages, reset links, login throttling

Revision ID: 0008
Revises: 0005

- ``accounts.password_hash`` (argon2, NULL until set), ``accounts.auth_epoch``
  (a password change bumps it: older web sessions are logged out) and
  ``accounts.language`` (the web pages' language, NULL: the browser's);
- ``password_resets``: one-time links, stored hashed;
- ``login_failures``: refused web logins, counted per IP and per username.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("auth_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_password_resets_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(
        op.f("ix_password_resets_account_id"), "password_resets", ["account_id"], unique=False
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_subject"), "login_failures", ["subject"], unique=False)
    op.create_index(
        op.f("ix_login_failures_created_at"), "login_failures", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_created_at"), table_name="login_failures")
    op.drop_index(op.f("ix_login_failures_subject"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_password_resets_account_id"), table_name="password_resets")
    op.drop_table("password_resets")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("auth_epoch")
        batch_op.drop_column("password_hash")
