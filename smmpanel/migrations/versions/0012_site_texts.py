"""site texts and logo: the owner's terms and home text per language, the logo

Revision ID: 0012
Revises: 0011

- ``site_texts``: a text of the public pages (terms, home) per language;
- ``site_assets``: files the pages show from the database (the logo).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_texts",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "language", name=op.f("pk_site_texts")),
    )
    op.create_table(
        "site_assets",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_assets")),
    )


def downgrade() -> None:
    op.drop_table("site_assets")
    op.drop_table("site_texts")
