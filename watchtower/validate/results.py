"""Store validation results, and the hook ingest calls for every parsed file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from watchtower.config import Settings
from watchtower.contract import Source
from watchtower.ingest.steps import GateOutcome
from watchtower.store.schema import batches
from watchtower.store.validation import validation_results, validation_runs
from watchtower.validate.runner import FrameValidation, validate_frame


def store_results(conn: sa.Connection, batch_id: int, validation: FrameValidation) -> None:
    """Record ``validation`` for batch ``batch_id`` (call inside the file's transaction).

    Writes one ``validation_runs`` row (suite, rows, failed rows, rejection) and one
    ``validation_results`` row per expectation (evaluated, unexpected count, success).
    """
    conn.execute(
        validation_runs.insert().values(
            batch_id=batch_id,
            source=validation.source,
            suite=validation.suite,
            rows=validation.rows,
            failed_rows=validation.failed_rows,
            max_failure_share=validation.max_failure_share,
            rejected=validation.rejected is not None,
            message=validation.rejected,
        )
    )
    if validation.results:
        conn.execute(
            validation_results.insert(),
            [
                {
                    "batch_id": batch_id,
                    "expectation_type": r.expectation_type,
                    "columns": ",".join(r.columns),
                    "action": r.action,
                    "evaluated": r.evaluated,
                    "unexpected_count": r.unexpected_count,
                    "success": r.success,
                    "kwargs": r.kwargs,
                    "error": r.error,
                }
                for r in validation.results
            ],
        )


@dataclass
class IngestGate:
    """The validator ingest calls per file (``watchtower.ingest.steps.Validator``).

    ``gate(source, frame, known_managers)`` -> (row failures, rejection or None, a callback
    storing the results given the batch id). Keeps every validation of the run so that
    :meth:`build_data_docs` can render them afterwards.
    """

    settings: Settings

    def __post_init__(self) -> None:
        self.validations: list[FrameValidation] = []

    def __call__(
        self, source: Source, frame: pd.DataFrame, known_managers: frozenset[str]
    ) -> GateOutcome:
        validation = validate_frame(
            source, frame, settings=self.settings, known_managers=known_managers
        )
        self.validations.append(validation)

        def store(conn: sa.Connection, batch_id: int) -> None:
            store_results(conn, batch_id, validation)

        return GateOutcome(
            failures=dict(validation.failures),
            flags=dict(validation.flags),
            rejected=validation.rejected,
            drift=list(validation.drift),
            store=store,
        )

    def build_data_docs(self) -> Any:
        """Render this run's validations into ``settings.data_docs_dir`` (index.html path)."""
        from watchtower.validate.docs import build_data_docs

        return build_data_docs(self.settings, self.validations) if self.validations else None


@dataclass(frozen=True)
class QualityRow:
    """Pass rate of one source on one day (batches ingested that day)."""

    day: dt.date
    source: str
    batches: int
    rejected: int
    rows: int
    failed_rows: int

    @property
    def pass_rate(self) -> float:
        return 1.0 if not self.rows else 1 - self.failed_rows / self.rows


def quality_over_time(
    conn: sa.Connection, *, source: str | None = None, since: dt.date | None = None
) -> list[QualityRow]:
    """Per-source, per-day pass rates from stored validation runs, oldest first.

    The day is the batch's file date (the data's date), else the day it was ingested.
    """
    day = sa.func.coalesce(batches.c.file_date, sa.func.date(batches.c.ingested_at))
    query = (
        sa.select(
            day.label("day"),
            validation_runs.c.source,
            sa.func.count().label("batches"),
            sa.func.sum(sa.cast(validation_runs.c.rejected, sa.Integer)).label("rejected"),
            sa.func.sum(validation_runs.c.rows).label("rows"),
            sa.func.sum(validation_runs.c.failed_rows).label("failed_rows"),
        )
        .join(batches, batches.c.id == validation_runs.c.batch_id)
        .group_by(day, validation_runs.c.source)
        .order_by(day, validation_runs.c.source)
    )
    if source:
        query = query.where(validation_runs.c.source == source)
    if since:
        query = query.where(day >= since)
    out = []
    for r in conn.execute(query):
        d = r.day if isinstance(r.day, dt.date) else dt.date.fromisoformat(str(r.day)[:10])
        out.append(
            QualityRow(
                d,
                r.source,
                int(r.batches),
                int(r.rejected or 0),
                int(r.rows or 0),
                int(r.failed_rows or 0),
            )
        )
    return out


@dataclass(frozen=True)
class DriftRow:
    """A value of an enumerated field that the contract does not list (vocabulary drift)."""

    source: str
    field: str
    value: str
    count: int
    first_seen: dt.date
    last_seen: dt.date
    first_batch_id: int


def vocabulary_drift(conn: sa.Connection, *, source: str | None = None) -> list[DriftRow]:
    """Every unknown enum value seen, most frequent first."""
    from watchtower.store.schema import vocabulary

    query = sa.select(vocabulary).order_by(vocabulary.c.count.desc(), vocabulary.c.value)
    if source:
        query = query.where(vocabulary.c.source == source)
    return [
        DriftRow(
            r.source,
            r.field,
            r.value,
            int(r._mapping["count"]),
            r.first_seen,
            r.last_seen,
            int(r.first_batch_id),
        )
        for r in conn.execute(query)
    ]


@dataclass(frozen=True)
class RefusedBatch:
    """A rejected or failed batch waiting for ``watchtower readmit``."""

    batch_id: int
    status: str
    source: str
    file_path: str
    part: str | None
    rows_read: int
    message: str | None


def refused_batches(conn: sa.Connection) -> list[RefusedBatch]:
    query = (
        sa.select(batches)
        .where(batches.c.status.in_(("rejected", "failed")), batches.c.readmitted_by.is_(None))
        .order_by(batches.c.id)
    )
    return [
        RefusedBatch(
            int(r.id), r.status, r.source, r.file_path, r.part, int(r.rows_read), r.message
        )
        for r in conn.execute(query)
    ]
