"""record versions and what a day knew: corrections known from their receipt

Revision ID: 0009
Revises: 0007

History rows get their version key and content hash (``watchtower.ingest.versions``), batches
the day they were received, the earliest known_from they stored and their unchanged and
corrected rows; ``feature_runs`` records what the store knew of a day when its features were
computed. Batches stored before this revision get the earliest known_from of their rows.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_HISTORY = (
    "manager_snapshots",
    "manager_details",
    "fund_snapshots",
    "fund_details",
    "cancellations",
    "reports",
    "events",
    "incidents",
)


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("known_from_min", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("rows_unchanged", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("rows_corrected", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_batches_known_from_min"), ["known_from_min"], unique=False
        )
    for name in _HISTORY:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("version_key", sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
            batch_op.create_index(
                batch_op.f(f"ix_{name}_version_key"), ["version_key"], unique=False
            )
    op.create_table(
        "feature_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("feature_set_version", sa.String(length=32), nullable=False),
        sa.Column("partition", sa.String(length=64), nullable=False),
        sa.Column("knowledge", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_runs")),
        sa.UniqueConstraint(
            "as_of",
            "feature_set_version",
            "partition",
            name=op.f("uq_feature_runs_as_of_feature_set_version_partition"),
        ),
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """The earliest known_from of each batch stored before this revision. (Its rows keep no
    version key: which feed they came in was not recorded, so a re-delivery of them counts as
    a first version, as it did before.)"""
    from watchtower.store.schema import HISTORY, batches

    earliest: dict[int, dt.date] = {}
    for table in HISTORY.values():
        stmt = sa.select(table.c.batch_id, sa.func.min(table.c.known_from)).group_by(
            table.c.batch_id
        )
        for batch_id, first in conn.execute(stmt):
            earliest[batch_id] = min(first, earliest.get(batch_id, first))
    if earliest:
        conn.execute(
            batches.update()
            .where(batches.c.id == sa.bindparam("_id"))
            .values(known_from_min=sa.bindparam("_kf")),
            [{"_id": k, "_kf": v} for k, v in earliest.items()],
        )


def downgrade() -> None:
    op.drop_table("feature_runs")
    for name in _HISTORY:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_version_key"))
            batch_op.drop_column("row_hash")
            batch_op.drop_column("version_key")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_known_from_min"))
        batch_op.drop_column("rows_corrected")
        batch_op.drop_column("rows_unchanged")
        batch_op.drop_column("known_from_min")
        batch_op.drop_column("received")
