"""Load landing files into the store: one transaction per file, nothing lost.

For each file: hash its bytes (content seen and loaded before -> skipped), read it (unreadable
-> failed batch with the reason), parse it (bad rows -> quarantine with row, field and reason),
then, in ONE transaction, record the batch, load the good rows and quarantine the bad ones.
Invariant: rows_read == rows_loaded + rows_quarantined for every loaded file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from watchtower.clock import Clock, SystemClock
from watchtower.contract import FIELDS, Source
from watchtower.ingest.discover import LandingFile, discover
from watchtower.ingest.parse import MissingColumnError, ParsedFile, RowFailure, parse_frame
from watchtower.ingest.readers import ReadError, read_raw
from watchtower.store.schema import HISTORY, batches, manager_snapshots, quarantine

#: Validator hook: (source, typed frame, known managers) -> (row failures, batch rejection or None,
#: a callback that stores validation results inside the file's transaction given the batch id).
Validator = Callable[
    [Source, pd.DataFrame, frozenset[str]],
    tuple[dict[int, list[Any]], str | None, Callable[[sa.Connection, int], None] | None],
]


@dataclass(frozen=True)
class FileResult:
    path: str
    source: str | None
    status: str  # loaded | skipped | failed | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    batch_id: int | None = None


@dataclass(frozen=True)
class IngestSummary:
    landing_dir: str
    files: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    files_loaded: int
    files_skipped: int
    files_failed: int
    files_rejected: int
    results: list[FileResult] = field(default_factory=list)


def summarize(landing_dir: Path, results: list[FileResult]) -> IngestSummary:
    def count(status: str) -> int:
        return sum(r.status == status for r in results)

    return IngestSummary(
        landing_dir=str(landing_dir),
        files=len(results),
        rows_read=sum(r.rows_read for r in results),
        rows_loaded=sum(r.rows_loaded for r in results),
        rows_quarantined=sum(r.rows_quarantined for r in results),
        files_loaded=count("loaded"),
        files_skipped=count("skipped"),
        files_failed=count("failed"),
        files_rejected=count("rejected"),
        results=results,
    )


def ingest_dir(
    engine: sa.Engine,
    landing_dir: Path,
    *,
    clock: Clock | None = None,
    validator: Validator | None = None,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
) -> IngestSummary:
    """Ingest every landing file under ``landing_dir`` (see module docstring)."""
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing_dir}")
    clock = clock or SystemClock()
    files = discover(landing_dir)
    known_managers = _known_managers(engine)
    results: list[FileResult] = []
    for landing in progress(files) if progress else files:
        result = ingest_file(
            engine, landing, clock=clock, validator=validator, known_managers=known_managers
        )
        results.append(result)
    return summarize(landing_dir, results)


def _known_managers(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(manager_snapshots.c.register_no).distinct())
        return {r for (r,) in rows if r}


def ingest_file(
    engine: sa.Engine,
    landing: LandingFile,
    *,
    clock: Clock,
    validator: Validator | None = None,
    known_managers: set[str] | None = None,
) -> FileResult:
    """Ingest one file in one transaction; returns what happened to it."""
    path = landing.path
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with engine.connect() as conn:
        seen = conn.execute(sa.select(batches.c.id).where(batches.c.loaded_hash == digest)).first()
    if seen is not None:
        return FileResult(
            str(path),
            landing.source,
            "skipped",
            message=f"same content already loaded as batch {seen.id}",
        )
    if landing.source is None:
        return _record_failure(
            engine,
            landing,
            digest,
            clock,
            "cannot tell the source: put the file in managers/, funds/, reports/, events/ or "
            "incidents/, or start its name with the source (managers_2024-06-30.csv)",
        )
    source: Source = landing.source
    try:
        raw = read_raw(path, data)
        parsed = parse_frame(source, raw, file_date=landing.file_date, ingest_date=clock.today())
    except (ReadError, MissingColumnError) as exc:
        return _record_failure(engine, landing, digest, clock, str(exc))

    failures = {row: list(fs) for row, fs in parsed.failures.items()}
    rejected: str | None = None
    store_results: Callable[[sa.Connection, int], None] | None = None
    if validator is not None:
        good = parsed.frame.drop(index=list(failures))
        good = good.assign(
            file_date=pd.Timestamp(landing.file_date) if landing.file_date else pd.NaT
        )
        row_failures, rejected, store_results = validator(
            source, good, frozenset(known_managers or ())
        )
        for row, fs in row_failures.items():
            failures.setdefault(int(row), []).extend(fs)

    rows_read = len(parsed.frame)
    bad_rows = sorted(failures)
    status = "rejected" if rejected else "loaded"
    loaded = 0 if rejected else rows_read - len(bad_rows)
    try:
        with engine.begin() as conn:
            batch_id = _insert_batch(
                conn,
                landing,
                digest,
                clock,
                status=status,
                rows_read=rows_read,
                rows_loaded=loaded,
                rows_quarantined=0 if rejected else len(bad_rows),
                message=rejected,
            )
            if store_results is not None:
                store_results(conn, batch_id)
            if not rejected:
                good_frame = parsed.frame.drop(index=bad_rows)
                insert_rows(conn, HISTORY[source], _records(source, good_frame, batch_id))
                insert_rows(conn, quarantine, _quarantine_records(parsed, failures, batch_id))
    except IntegrityError:
        # Another run loaded the same content meanwhile: the unique loaded_hash refused ours.
        with engine.connect() as conn:
            if conn.execute(sa.select(batches.c.id).where(batches.c.loaded_hash == digest)).first():
                return FileResult(
                    str(path),
                    source,
                    "skipped",
                    message="same content loaded concurrently by another run",
                )
        raise
    if not rejected and known_managers is not None and source == "managers":
        known_managers.update(parsed.frame["register_no"].dropna().astype(str))
    return FileResult(
        str(path),
        source,
        status,
        rows_read=rows_read,
        rows_loaded=loaded,
        rows_quarantined=0 if rejected else len(bad_rows),
        message=rejected,
        batch_id=batch_id,
    )


def insert_rows(conn: sa.Connection, table: sa.Table, records: list[dict[str, Any]]) -> None:
    """Bulk insert in chunks (one executemany each) inside the caller's transaction."""
    chunk = 5000
    for start in range(0, len(records), chunk):
        conn.execute(table.insert(), records[start : start + chunk])


def _insert_batch(
    conn: sa.Connection,
    landing: LandingFile,
    digest: str,
    clock: Clock,
    *,
    status: str,
    rows_read: int,
    rows_loaded: int,
    rows_quarantined: int,
    message: str | None,
) -> int:
    result = conn.execute(
        batches.insert().values(
            source=landing.source or "unknown",
            file_name=landing.path.name,
            file_path=str(landing.path),
            content_hash=digest,
            loaded_hash=digest if status == "loaded" else None,
            status=status,
            file_date=landing.file_date,
            rows_read=rows_read,
            rows_loaded=rows_loaded,
            rows_quarantined=rows_quarantined,
            message=message,
            ingested_at=clock.now(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _record_failure(
    engine: sa.Engine, landing: LandingFile, digest: str, clock: Clock, message: str
) -> FileResult:
    with engine.begin() as conn:
        batch_id = _insert_batch(
            conn,
            landing,
            digest,
            clock,
            status="failed",
            rows_read=0,
            rows_loaded=0,
            rows_quarantined=0,
            message=message,
        )
    return FileResult(
        str(landing.path), landing.source, "failed", message=message, batch_id=batch_id
    )


def _db_values(column: pd.Series) -> list[Any]:
    """A frame column as DB-API values: missing -> None, timestamps -> date, numpy -> Python."""
    missing = column.isna().to_numpy()
    if column.dtype.kind == "M":
        values = np.array(column.dt.date.to_numpy(dtype=object), dtype=object)
    elif column.dtype.kind == "f":
        values = np.array(column.to_numpy(dtype=object), dtype=object)
    else:
        values = np.array(column.astype(object).to_numpy(dtype=object), dtype=object)
    values[missing] = None
    if column.dtype.kind in "iub" or str(column.dtype) in ("Int64", "boolean"):
        return [v if v is None else v.item() if isinstance(v, np.generic) else v for v in values]
    return values.tolist()


def _records(source: Source, frame: pd.DataFrame, batch_id: int) -> list[dict[str, Any]]:
    columns = [f.column for f in FIELDS[source]] + ["known_from", "extra"]
    lists = [_db_values(frame[c]) for c in columns[:-1]] + [
        [e if isinstance(e, dict) else None for e in frame["extra"]]
    ]
    names = [*columns, "batch_id", "row_number"]
    batch = [batch_id] * len(frame)
    rows = [int(r) for r in frame.index]
    return [
        dict(zip(names, values, strict=True)) for values in zip(*lists, batch, rows, strict=True)
    ]


def _quarantine_records(
    parsed: ParsedFile, failures: dict[int, list[Any]], batch_id: int
) -> list[dict[str, Any]]:
    records = []
    for row in sorted(failures):
        details = [_failure_dict(f) for f in failures[row]]
        raw = {str(k): v for k, v in parsed.raw.loc[row].items() if v is not None and v != ""}
        records.append(
            {
                "batch_id": batch_id,
                "source": parsed.source,
                "row_number": row,
                "field": details[0]["field"],
                "reason": "; ".join(d["reason"] for d in details),
                "details": details,
                "raw": raw,
            }
        )
    return records


def _failure_dict(failure: Any) -> dict[str, str]:
    if isinstance(failure, RowFailure):
        return {"field": failure.field, "check": failure.check, "reason": failure.reason}
    check = getattr(failure, "expectation", None) or getattr(failure, "check", "validation")
    return {"field": str(failure.field), "check": str(check), "reason": str(failure.reason)}
