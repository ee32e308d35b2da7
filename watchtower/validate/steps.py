"""Dry run: validate a landing folder the way ingest would, loading nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from watchtower.clock import Clock, SystemClock
from watchtower.config import Settings
from watchtower.ingest import LandingFile, parse_frame
from watchtower.ingest.aliases import Aliases, load_aliases
from watchtower.ingest.discover import scan
from watchtower.ingest.parse import MissingColumnError
from watchtower.ingest.readers import (
    DEFAULT_LIMITS,
    ReadLimits,
    describe_error,
    printable_path,
    safe_message,
)
from watchtower.ingest.shapes import Part, check_size, read_parts, stream_parts, streams
from watchtower.store.schema import manager_snapshots
from watchtower.validate.runner import FrameValidation, validate_frame


@dataclass(frozen=True)
class FileValidation:
    """What ingest would do with one file.

    ``status``: ok (would load, maybe with quarantined rows) | rejected (batch gate) |
    failed (unreadable, or a required column missing, or refused unread: a symlink leading
    outside the folder). ``failures_by_expectation``: failing
    rows per check, parse checks included (e.g. ``{"date": 3, "expect_...": 2}``).
    """

    path: str
    source: str | None
    status: str
    rows: int = 0
    parse_failed_rows: int = 0
    failed_rows: int = 0
    flagged_rows: int = 0  # would load with a data-quality flag
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
    #: files still being written (the landing protocol): not validated, as ingest would not
    #: read them yet; "path: why" lines
    waiting: list[str] = field(default_factory=list)


def run_landing_validation(
    engine: sa.Engine | None,
    settings: Settings,
    landing_dir: Path,
    *,
    today: dt.date,
    build_docs: bool = True,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
    wall_clock: Clock | None = None,
) -> ValidationSummary:
    """Run ingest's reading, parsing and the suites over ``landing_dir``; load nothing.

    ``today`` stands in for a missing snapshot date, as the ingest date does. Managers known
    to the store (``engine``, read only; None while there is no store) and managers in the
    folder's managers files count as known, as during ingest. Data docs are built into
    ``settings.data_docs_dir``. The landing protocol and the read limits are ingest's: files
    still being written are ``waiting``, symlinks leading outside the folder are refused
    unread, any read error is one line.
    """
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing_dir}")
    settle = settings.landing_settle_seconds
    now = (wall_clock or SystemClock()).now() if settle > 0 else None
    found = scan(landing_dir, settle_seconds=settle, now=now)
    files = found.files
    limits = ReadLimits(max_file_bytes=settings.landing_max_file_mb * 1024 * 1024)
    known = _store_managers(engine)
    # Ingest loads managers first; so does the dry run.
    ordered = sorted(files, key=lambda f: (f.source != "managers", str(f.path)))
    results: list[FileValidation] = [
        FileValidation(printable_path(p.path), None, "failed", message=f"not read: {p.why}")
        for p in found.refused
    ]
    validations: list[FrameValidation] = []
    labels: list[str] = []
    aliases = load_aliases(settings.aliases_file)
    for landing in progress(ordered) if progress else ordered:
        for result, validation in _validate_file(settings, landing, known, today, aliases, limits):
            results.append(result)
            if validation is not None:
                validations.append(validation)
                labels.append(Path(result.path).name)
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
        waiting=[f"{printable_path(p.path)}: {p.why}" for p in found.waiting],
    )


def _validate_file(
    settings: Settings,
    landing: LandingFile,
    known: set[str],
    today: dt.date,
    aliases: Aliases,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[tuple[FileValidation, FrameValidation | None]]:
    """Each part of one file (a bundle holds several lists, a large CSV or JSON Lines file is
    read in chunks), as ingest would read it; any error reading it is a one-line failure."""
    path = landing.path
    out: list[tuple[FileValidation, FrameValidation | None]] = []
    try:
        size = path.stat().st_size
        check_size(path, size, limits)
        if streams(path, size, limits):
            parts: Iterable[Part] = stream_parts(
                path, hint=landing.source, aliases=aliases, limits=limits
            )
        else:
            parts = read_parts(
                path, path.read_bytes(), hint=landing.source, aliases=aliases, limits=limits
            )
        for part in parts:
            out.append(_validate_part(settings, landing, part, known, today, aliases))
    except Exception as exc:  # like ingest: one file's failure is one line, the run goes on
        failed = FileValidation(
            printable_path(path), landing.source, "failed", message=describe_error(exc)
        )
        out.append((failed, None))
    return out


def _validate_part(
    settings: Settings,
    landing: LandingFile,
    part: Part,
    known: set[str],
    today: dt.date,
    aliases: Aliases,
) -> tuple[FileValidation, FrameValidation | None]:
    path = printable_path(landing.path) + (f"#{part.key}" if part.key else "")
    path += f" ({part.chunk})" if part.chunk else ""
    if part.source is None:
        return FileValidation(path, None, "failed", message="cannot tell the source"), None
    source = part.source
    try:
        parsed = parse_frame(
            source, part.raw, file_date=landing.file_date, ingest_date=today, aliases=aliases
        )
    except MissingColumnError as exc:
        message = safe_message(str(exc))
        return FileValidation(path, source, "rejected", rows=len(part.raw), message=message), None
    good = parsed.frame.drop(index=list(parsed.failures))
    good = good.assign(file_date=pd.Timestamp(landing.file_date) if landing.file_date else pd.NaT)
    validation = validate_frame(source, good, settings=settings, known_managers=frozenset(known))
    counts: Counter[str] = Counter()
    examples: list[str] = []
    for failures in (parsed.failures, validation.failures):
        for row, fs in sorted(failures.items()):
            counts.update({f.check for f in fs})
            if len(examples) < 5:
                examples.append(f"row {row}: " + "; ".join(f.reason for f in fs))
    status = "rejected" if validation.rejected else "ok"
    if status == "ok" and source == "managers":
        known.update(good["register_no"].dropna().astype(str))
    return (
        FileValidation(
            path,
            source,
            status,
            rows=len(parsed.frame),
            parse_failed_rows=len(parsed.failures),
            failed_rows=validation.failed_rows,
            flagged_rows=validation.flagged_rows,
            message=safe_message(validation.rejected) if validation.rejected else None,
            failures_by_expectation=dict(counts.most_common()),
            examples=examples,
        ),
        validation,
    )


def _store_managers(engine: sa.Engine | None) -> set[str]:
    """Register numbers in the store, read only; empty when there is no store yet."""
    if engine is None:
        return set()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(manager_snapshots.c.register_no).distinct())
        return {r for (r,) in rows if r}
