"""model registry: models.artifact_hmac (the signed record of each artifact)

Revision ID: 0010
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: models registered before signing stay, unsigned, and load only with --trust
    # until `watchtower models sign ID --trust` vouches for them.
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("artifact_hmac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("artifact_hmac")
