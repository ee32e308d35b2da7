"""outbox identity: one digest per (recipient, period_key, subscription_key); re-queue record

Two subscriptions of one address (or two addresses that looked alike once made file names)
shared one outbox row, so one digest was lost. The key now includes the subscription's
identity; rows from before get '' (they were one per recipient and period anyway).

Revision ID: 0008
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot drop a constraint in place (the table is copied).
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subscription_key", sa.String(length=128), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("requeues", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("requeued_at", sa.DateTime(), nullable=True))
        batch_op.drop_constraint("uq_outbox_recipient_period_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_outbox_recipient_period_key_subscription_key",
            ["recipient", "period_key", "subscription_key"],
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("uq_outbox_recipient_period_key_subscription_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_outbox_recipient_period_key", ["recipient", "period_key"]
        )
        batch_op.drop_column("requeued_at")
        batch_op.drop_column("requeues")
        batch_op.drop_column("subscription_key")
