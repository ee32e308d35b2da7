"""Dry run: validate a landing folder the way ingest would, loading nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from watchtower.config import Settings
from watchtower.ingest import LandingFile, discover, parse_frame, read_raw
from watchtower.ingest.parse import MissingColumnError
from watchtower.ingest.readers import ReadError
from watchtower.validate.runner import FrameValidation, validate_frame


@dataclass(frozen=True)
class FileValidation:
    """What ingest would do with one file.

    ``status``: ok (would load, maybe with quarantined rows) | rejected (batch gate) |
    failed (unreadable, or a required column missing). ``failures_by_expectation``: failing
    rows per check, parse checks included (e.g. ``{"date": 3, "expect_...": 2}``).
    """

    path: str
    source: str | None
    status: str
    rows: int = 0
    parse_failed_rows: int = 0
    failed_rows: int = 0
    message: str | None = None
    failures_by_expectation: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # a few "row N: reason" lines


@dataclass(frozen=True)
class ValidationSummary:
    landing_dir: str
    files: int
    rows: int
    quarantined_rows: int
    files_ok: int
    files_rejected: int
    files_failed: int
    data_docs: str | None
    results: list[FileValidation] = field(default_factory=list)


def validate_landing(
    settings: Settings,
    landing_dir: Path,
    *,
    today: dt.date,
    build_docs: bool = True,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
) -> ValidationSummary:
    """Run ingest's reading, parsing and the suites over ``landing_dir``; load nothing.

    ``today`` stands in for a missing snapshot date, as the ingest date does. Managers known
    to the store (read only, when it exists) and managers in the folder's managers files count
    as known, as during ingest. Data docs are built into ``settings.data_docs_dir``.
    """
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing_dir}")
    files = discover(landing_dir)
    known = set(_store_managers(settings))
    # Ingest loads managers first; so does the dry run.
    ordered = sorted(files, key=lambda f: (f.source != "managers", str(f.path)))
    results: list[FileValidation] = []
    validations: list[FrameValidation] = []
    labels: list[str] = []
    for landing in progress(ordered) if progress else ordered:
        result, validation = _validate_file(settings, landing, known, today)
        results.append(result)
        if validation is not None:
            validations.append(validation)
            labels.append(landing.path.name)
    docs = None
    if build_docs and validations:
        from watchtower.validate.docs import build_data_docs

        docs = str(build_data_docs(settings, validations, labels=labels))
    return ValidationSummary(
        landing_dir=str(landing_dir),
        files=len(results),
        rows=sum(r.rows for r in results),
        quarantined_rows=sum(
            r.parse_failed_rows + r.failed_rows for r in results if r.status == "ok"
        ),
        files_ok=sum(r.status == "ok" for r in results),
        files_rejected=sum(r.status == "rejected" for r in results),
        files_failed=sum(r.status == "failed" for r in results),
        data_docs=docs,
        results=results,
    )


def _validate_file(
    settings: Settings, landing: LandingFile, known: set[str], today: dt.date
) -> tuple[FileValidation, FrameValidation | None]:
    path = str(landing.path)
    if landing.source is None:
        return FileValidation(path, None, "failed", message="cannot tell the source"), None
    try:
        raw = read_raw(landing.path, landing.path.read_bytes())
        parsed = parse_frame(landing.source, raw, file_date=landing.file_date, ingest_date=today)
    except (ReadError, MissingColumnError, OSError) as exc:
        return FileValidation(path, landing.source, "failed", message=str(exc)), None
    good = parsed.frame.drop(index=list(parsed.failures))
    good = good.assign(file_date=pd.Timestamp(landing.file_date) if landing.file_date else pd.NaT)
    validation = validate_frame(
        landing.source, good, settings=settings, known_managers=frozenset(known)
    )
    counts: Counter[str] = Counter()
    examples: list[str] = []
    all_failures: list[dict[int, list[Any]]] = [parsed.failures, validation.failures]
    for failures in all_failures:
        for row, fs in sorted(failures.items()):
            counts.update({getattr(f, "expectation", None) or f.check for f in fs})
            if len(examples) < 5:
                examples.append(f"row {row}: " + "; ".join(f.reason for f in fs))
    status = "rejected" if validation.rejected else "ok"
    if status == "ok" and landing.source == "managers":
        known.update(good["register_no"].dropna().astype(str))
    return (
        FileValidation(
            path,
            landing.source,
            status,
            rows=len(parsed.frame),
            parse_failed_rows=len(parsed.failures),
            failed_rows=validation.failed_rows,
            message=validation.rejected,
            failures_by_expectation=dict(counts.most_common()),
            examples=examples,
        ),
        validation,
    )


def _store_managers(settings: Settings) -> set[str]:
    """Register numbers in the store, read only; empty when there is no store yet."""
    from watchtower.store.engine import create_engine
    from watchtower.store.schema import manager_snapshots

    url = sa.make_url(settings.db_url)
    if url.drivername.startswith("sqlite") and (
        not url.database or not Path(url.database).exists()
    ):
        return set()
    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(manager_snapshots.name):
                return set()
            rows = conn.execute(sa.select(manager_snapshots.c.register_no).distinct())
            return {r for (r,) in rows if r}
    finally:
        engine.dispose()
