"""feature snapshots

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Written to match watchtower/store/features.py; checked with alembic's compare_metadata
    # against a scratch SQLite store (no differences). Portable to PostgreSQL.
    op.create_table(
        "feature_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("register_no", sa.String(length=16), nullable=False),
        sa.Column("feature_set_version", sa.String(length=32), nullable=False),
        sa.Column("manager_name", sa.Text(), nullable=True),
        sa.Column("manager_type", sa.String(length=64), nullable=True),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("city", sa.String(length=64), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_snapshots")),
        sa.UniqueConstraint(
            "as_of",
            "register_no",
            "feature_set_version",
            name=op.f("uq_feature_snapshots_as_of_register_no_feature_set_version"),
        ),
    )
    with op.batch_alter_table("feature_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feature_snapshots_register_no_as_of", ["register_no", "as_of"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("feature_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_snapshots_register_no_as_of")
    op.drop_table("feature_snapshots")
