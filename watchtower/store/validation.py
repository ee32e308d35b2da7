"""Data-quality results: one row per validated batch, one per expectation per batch.

Written by :func:`watchtower.validate.store_results` inside ingest's file transaction, read by
``watchtower quality`` (pass rates per source over time). A rejected batch has its results
stored too: they explain the rejection.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.schema import metadata

validation_runs = sa.Table(
    "validation_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False, unique=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("suite", sa.String(100), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),  # rows the suite saw (after parsing)
    sa.Column("failed_rows", sa.Integer, nullable=False),  # rows failing quarantine checks
    sa.Column("max_failure_share", sa.Float, nullable=False),
    sa.Column("rejected", sa.Boolean, nullable=False),
    sa.Column("message", sa.Text),  # the rejection reason, if any
)

validation_results = sa.Table(
    "validation_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False, index=True),
    sa.Column("expectation_type", sa.String(100), nullable=False),
    sa.Column("columns", sa.String(200), nullable=False),  # comma-joined snake_case columns
    sa.Column("action", sa.String(20), nullable=False),  # quarantine | warn | reject
    sa.Column("evaluated", sa.Integer, nullable=False),
    sa.Column("unexpected_count", sa.Integer, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("kwargs", sa.JSON, nullable=False),
    sa.Column("error", sa.Text),
)
