"""Load landing files into the store: one transaction per batch, nothing lost.

For each file: hash its bytes, read it into parts (a bundle holds several lists; each part is
one batch with the source its shape tells), then per part: content loaded before -> skipped;
rejected or failed before with the same content -> skipped until re-admitted (``readmit``);
unreadable -> failed batch with the reason; parse (rows without a trustworthy identity ->
quarantine with row, field and reason), run the quality gate (odd but usable values -> the row
loads with data-quality flags; a structural fault -> the batch is rejected, its rows counted as
rejected), tie funds and deregistrations to their managers, and in ONE transaction record the
batch, load the rows, quarantine the bad ones and count vocabulary drift.
Invariant, for every batch and summary: rows_read == loaded + quarantined + rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from watchtower.clock import Clock, SystemClock
from watchtower.contract import FIELDS, SOURCES, Source
from watchtower.ingest.aliases import Aliases
from watchtower.ingest.changes import derive_change_events
from watchtower.ingest.discover import LandingFile, Passed, inside, scan
from watchtower.ingest.links import ManagerIndex, link_funds, match_cancellations
from watchtower.ingest.parse import MissingColumnError, ParsedFile, RowFailure, parse_frame
from watchtower.ingest.readers import (
    DEFAULT_LIMITS,
    ReadError,
    ReadLimits,
    describe_error,
    printable_path,
    printable_text,
    safe_header,
    safe_message,
)
from watchtower.ingest.shapes import Part, check_size, read_parts, stream_parts, streams
from watchtower.ingest.versions import (
    VersionPlan,
    decide_versions,
    existing_versions,
    row_hashes,
    version_keys,
)
from watchtower.store.bulk import insert_many
from watchtower.store.schema import (
    DERIVED_COLUMNS,
    HISTORY,
    batches,
    manager_details,
    manager_snapshots,
    quarantine,
    vocabulary,
)


@dataclass(frozen=True)
class GateOutcome:
    """What the quality gate decided for one parsed batch.

    ``failures``: record number -> reasons to quarantine it. ``flags``: record number -> odd
    but usable values (the row loads, flagged). ``rejected``: why the whole batch is refused
    (a structural fault), else None. ``drift``: (column, value, rows) of enumerated values the
    contract does not list. ``store``: writes the validation results inside the batch's
    transaction, given the batch id.
    """

    failures: dict[int, list[RowFailure]] = field(default_factory=dict)
    flags: dict[int, list[RowFailure]] = field(default_factory=dict)
    rejected: str | None = None
    drift: list[tuple[str, str, int]] = field(default_factory=list)
    store: Callable[[sa.Connection, int], None] | None = None


#: Validator hook: (source, typed frame, known managers) -> the gate's outcome.
Validator = Callable[[Source, pd.DataFrame, frozenset[str]], GateOutcome]


@dataclass(frozen=True)
class FileResult:
    """What happened to one batch (a file, or one list inside a bundle file)."""

    path: str
    source: str | None
    status: str  # loaded | skipped | failed | rejected (| waiting, kept out of summaries)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    batch_id: int | None = None
    rows_flagged: int = 0  # loaded rows carrying at least one data-quality flag
    rows_rejected: int = 0  # rows of a rejected batch
    part: str | None = None
    rows_unchanged: int = 0  # loaded rows equal to the stored version: not stored again
    rows_corrected: int = 0  # loaded rows that are later versions: known from their receipt
    chunk: str | None = None  # the records of a streamed file this batch holds


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
    rows_flagged: int = 0
    rows_rejected: int = 0
    batches: int = 0
    change_events: int = 0
    rows_unchanged: int = 0
    rows_corrected: int = 0
    received: dt.date | None = None
    #: files not read because they are still being written (landing protocol), by path
    waiting: list[str] = field(default_factory=list)
    files_waiting: int = 0


def summarize(
    landing_dir: Path,
    results: list[FileResult],
    *,
    change_events: int = 0,
    received: dt.date | None = None,
    waiting: list[str] | None = None,
) -> IngestSummary:
    """Counts over ``results``. ``files_*`` count batches by status (a bundle file's lists are
    batches of their own); ``files`` counts distinct files."""

    def count(status: str) -> int:
        return sum(r.status == status for r in results)

    return IngestSummary(
        landing_dir=str(landing_dir),
        files=len({r.path for r in results}),
        rows_read=sum(r.rows_read for r in results),
        rows_loaded=sum(r.rows_loaded for r in results),
        rows_quarantined=sum(r.rows_quarantined for r in results),
        files_loaded=count("loaded"),
        files_skipped=count("skipped"),
        files_failed=count("failed"),
        files_rejected=count("rejected"),
        results=results,
        rows_flagged=sum(r.rows_flagged for r in results),
        rows_rejected=sum(r.rows_rejected for r in results),
        batches=len(results),
        change_events=change_events,
        rows_unchanged=sum(r.rows_unchanged for r in results),
        rows_corrected=sum(r.rows_corrected for r in results),
        received=received,
        waiting=list(waiting or []),
        files_waiting=len(waiting or []),
    )


def run_ingest(
    engine: sa.Engine,
    landing_dir: Path,
    *,
    clock: Clock | None = None,
    validator: Validator | None = None,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
    aliases: Aliases | None = None,
    received: dt.date | None = None,
    settle_seconds: float = 0.0,
    wall_clock: Clock | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
    sleep: Callable[[float], None] | None = None,
) -> IngestSummary:
    """Ingest every landing file under ``landing_dir`` (see module docstring), then derive
    the change events of the managers whose snapshots this run loaded.

    ``received``: the day this delivery was received (default: the clock's today); a later
    version of a record is known from it (``watchtower.ingest.versions``).

    Landing protocol (``watchtower.ingest.discover``): a file modified less than
    ``settle_seconds`` ago by ``wall_clock`` (default the system clock; not ``clock``, which
    may be a replay's as-of day) and without a ``.done`` marker is *waiting*: not read, not
    recorded, in ``summary.waiting``; with ``sleep`` (the scheduled ingest passes
    ``time.sleep``), the run first waits once, at most ``settle_seconds``, for them to settle,
    so that files fetched just before are not left to the next run. Symlinks leading outside
    the folder are failed results, never read. Every file is read under ``limits``."""
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder not found: {landing_dir}")
    clock = clock or SystemClock()
    received = received or clock.today()
    wall = wall_clock or SystemClock()
    now = wall.now() if settle_seconds > 0 else None
    found = scan(landing_dir, settle_seconds=settle_seconds, now=now)
    if found.waiting and sleep is not None and now is not None:
        sleep(_settle_wait(found.waiting, now, settle_seconds))
        found = scan(landing_dir, settle_seconds=settle_seconds, now=wall.now())
    files = found.files
    index, known_managers = manager_index(engine)
    results: list[FileResult] = [_refused_entry(p) for p in found.refused]
    for landing in progress(files) if progress else files:
        results += ingest_file(
            engine,
            landing,
            clock=clock,
            validator=validator,
            known_managers=known_managers,
            index=index,
            aliases=aliases,
            received=received,
            limits=limits,
        )
    waiting = [printable_path(p.path) for p in found.waiting]
    waiting += [r.path for r in results if r.status == "waiting"]
    results = [r for r in results if r.status != "waiting"]
    derived = sum(derive_change_events(engine, batch_ids=group) for group in _event_groups(results))
    return summarize(
        landing_dir, results, change_events=derived, received=received, waiting=waiting
    )


#: Rows of loaded batches whose managers' change events are derived together.
EVENT_GROUP_ROWS = 200_000


def _event_groups(results: list[FileResult], rows: int | None = None) -> list[list[int]]:
    """The loaded batches in groups of about ``rows`` loaded rows (at least one batch each).

    A manager's events depend on its own history only (read whole from the store each time),
    so deriving them group by group gives the same events while the history held in memory
    stays bounded: a large file's chunks are a few groups, a usual day's run is one.
    """
    limit = EVENT_GROUP_ROWS if rows is None else rows
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for r in results:
        if r.status != "loaded" or r.batch_id is None:
            continue
        if current and size + r.rows_loaded > limit:
            groups.append(current)
            current, size = [], 0
        current.append(r.batch_id)
        size += r.rows_loaded
    return [*groups, current] if current else groups


def _settle_wait(waiting: list[Passed], now: dt.datetime, settle_seconds: float) -> float:
    """Seconds until the youngest waiting file has been unmodified for the settle time."""
    ages = []
    for passed in waiting:
        try:
            modified = os.stat(passed.path).st_mtime
        except OSError:
            continue
        ages.append(now - dt.datetime.fromtimestamp(modified, dt.UTC).replace(tzinfo=None))
    youngest = min((a.total_seconds() for a in ages), default=settle_seconds)
    return min(settle_seconds, max(settle_seconds - youngest, 0.0) + 0.5)


def _refused_entry(passed: Passed) -> FileResult:
    """A landing entry refused unread (a symlink leading outside the folder): a failed
    result, so the run says so and exits 1, but no batch: there is no content to record."""
    return FileResult(
        printable_path(passed.path), None, "failed", message=f"not read: {passed.why}"
    )


def manager_index(engine: sa.Engine) -> tuple[ManagerIndex, set[str]]:
    """What the store knows of managers' ids, names and codes, and their register numbers."""
    index = ManagerIndex()
    known: set[str] = set()
    with engine.connect() as conn:
        for table in (manager_snapshots, manager_details):
            cols = [table.c.register_no, table.c.amac_id, table.c.manager_name, table.c.uscc]
            # oldest first, so that the latest spelling of a name wins
            rows = conn.execute(
                sa.select(*cols, sa.func.max(table.c.known_from).label("last"))
                .group_by(*cols)
                .order_by(sa.text("last"))
            )
            for reg, amac_id, name, uscc, *_ in rows:
                index.add(reg, amac_id=amac_id, name=name, code=uscc)
                if reg and table is manager_snapshots:
                    known.add(reg)
    return index, known


def content_key(data: bytes, landing: LandingFile) -> str:
    """What makes a delivery the same delivery: its bytes and the date they are a snapshot of.

    The public feed often answers byte for byte the same on consecutive days; each day is still
    a snapshot of its own (the manager was listed that day), so the file's date is part of the
    key. A re-delivery of one file for one day is skipped.
    """
    digest = hashlib.sha256(data)
    if landing.file_date is not None:
        digest.update(f"|{landing.file_date.isoformat()}".encode())
    return digest.hexdigest()


def file_content_key(path: Path, landing: LandingFile) -> str:
    """:func:`content_key` of a file too large to hold, hashed as it is read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    if landing.file_date is not None:
        digest.update(f"|{landing.file_date.isoformat()}".encode())
    return digest.hexdigest()


def _unread_key(path: Path, landing: LandingFile) -> str:
    """The key of a file refused before its content was read (too large, unreadable): its
    path, size and time, so that the same file is skipped on re-runs and a new one is tried."""
    try:
        info = os.stat(path)
        stamp = f"{info.st_size}|{info.st_mtime_ns}"
    except OSError:
        stamp = "gone"
    name = printable_path(path)
    return hashlib.sha256(f"unread|{name}|{stamp}|{landing.file_date}".encode()).hexdigest()


def _part_hash(digest: str, part: Part) -> str:
    """A bundle's list is its own delivery: the file's key plus the list's name; a chunk of a
    streamed file, the file's key plus its records."""
    if part.chunk is not None:
        return hashlib.sha256(f"{digest}#{part.key or ''}@{part.chunk}".encode()).hexdigest()
    if part.key is None:
        return digest
    return hashlib.sha256(f"{digest}#{part.key}".encode()).hexdigest()


def ingest_file(
    engine: sa.Engine,
    landing: LandingFile,
    *,
    clock: Clock,
    validator: Validator | None = None,
    known_managers: set[str] | None = None,
    index: ManagerIndex | None = None,
    aliases: Aliases | None = None,
    readmit: bool = False,
    only_part: str | None = None,
    received: dt.date | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[FileResult]:
    """Ingest one file, one transaction per batch; returns what happened to each batch.

    ``readmit``: take content that was rejected or failed before (``watchtower readmit``).
    Any error while reading or parsing the file (or one of its parts) is a failed batch with
    a one-line message (:func:`describe_error`), never an exception: the run goes on with the
    next file, and re-runs skip the same content until it is re-admitted.
    """
    path = landing.path
    if landing.root is not None and not inside(os.path.realpath(path), landing.root):
        # swapped for a symlink leading outside since it was found: never read
        return [_refused_entry(Passed(path, "a symlink leading outside the landing folder"))]
    try:
        size = os.stat(path).st_size
        check_size(path, size, limits)
        streamed = streams(path, size, limits)
        data = None if streamed else path.read_bytes()
    except (ReadError, OSError) as exc:
        key = _unread_key(path, landing)
        if not readmit and (refused := _refused_before(engine, key, landing)) is not None:
            return [refused]
        return [_record_refusal(engine, landing, key, clock, describe_error(exc))]
    if _changed_since_found(landing):
        why = "changed while being read (still being written?): read by a later run"
        return [FileResult(printable_path(path), landing.source, "waiting", message=why)]
    digest = file_content_key(path, landing) if data is None else content_key(data, landing)
    if (loaded := _loaded_before(engine, digest, landing)) is not None:
        return [loaded]
    if not readmit and (refused := _refused_before(engine, digest, landing)) is not None:
        return [refused]
    try:
        parts = _parts(landing, data, aliases=aliases, limits=limits)
        del data  # the parts hold what is needed
    except Exception as exc:  # any failure to read this one file: a failed batch, go on
        return [_record_refusal(engine, landing, digest, clock, describe_error(exc))]
    return _ingest_parts(
        engine,
        landing,
        parts,
        digest,
        clock=clock,
        validator=validator,
        known_managers=known_managers,
        index=index,
        aliases=aliases,
        readmit=readmit,
        only_part=only_part,
        received=received,
    )


def _loaded_before(engine: sa.Engine, digest: str, landing: LandingFile) -> FileResult | None:
    """A skip result when a batch holds this content already, else None."""
    with engine.connect() as conn:
        seen = conn.execute(sa.select(batches.c.id).where(batches.c.loaded_hash == digest)).first()
    if seen is None:
        return None
    message = f"same content already loaded as batch {seen.id}"
    # the batch id says which batch holds this content (readmit records it)
    return FileResult(
        printable_path(landing.path),
        landing.source,
        "skipped",
        message=message,
        batch_id=int(seen.id),
    )


def _parts(
    landing: LandingFile, data: bytes | None, *, aliases: Aliases | None, limits: ReadLimits
) -> Iterator[Part]:
    """The file's parts: streamed chunks (``data`` None), or every list of a whole file in
    the contract's order (managers before the funds linking to them)."""
    path = landing.path
    if data is None:
        return stream_parts(path, hint=landing.source, aliases=aliases, limits=limits)
    listed = read_parts(path, data, hint=landing.source, aliases=aliases, limits=limits)
    order: dict[str, int] = {source: i for i, source in enumerate(SOURCES)}
    return iter(sorted(listed, key=lambda p: order.get(p.source or "", len(order))))


def _ingest_parts(
    engine: sa.Engine,
    landing: LandingFile,
    parts: Iterator[Part],
    digest: str,
    *,
    clock: Clock,
    validator: Validator | None,
    known_managers: set[str] | None,
    index: ManagerIndex | None,
    aliases: Aliases | None,
    readmit: bool,
    only_part: str | None,
    received: dt.date | None,
) -> list[FileResult]:
    """One batch per part (``only_part``: that one only), each in its own transaction."""
    path = landing.path
    results = []
    while True:
        try:
            part = next(parts, None)
        except Exception as exc:  # a streamed file failing midway: the chunks before it stay
            results.append(_record_refusal(engine, landing, digest, clock, describe_error(exc)))
            break
        if part is None:
            break
        if only_part is not None and part.key != only_part:
            continue
        part_digest = _part_hash(digest, part)
        try:
            result = _ingest_part(
                engine,
                landing,
                part,
                part_digest,
                clock=clock,
                validator=validator,
                known_managers=known_managers,
                index=index if index is not None else ManagerIndex(),
                aliases=aliases,
                readmit=readmit,
                received=received or clock.today(),
            )
        except StoreFailure as failure:
            # the store failed, not the content: the run stops, the batch left nothing behind
            raise failure.error from None
        except Exception as exc:  # parsing, the gate or the store refused this part's content
            result = _record_refusal(
                engine,
                LandingFile(path, part.source, landing.file_date),
                part_digest,
                clock,
                describe_error(exc),
                part=part.key,
                rows_read=len(part.raw),
                chunk=part.chunk,
            )
        results.append(result)
    return results


class StoreFailure(Exception):
    """Carries an error raised while a batch was written (the database, the disk): not the
    content's fault, so it is raised again rather than recorded as a failed batch."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _changed_since_found(landing: LandingFile) -> bool:
    """Whether the file's size or time differ from when it was discovered."""
    if landing.size is None or landing.mtime_ns is None:
        return False
    try:
        info = os.stat(landing.path)
    except OSError:
        return True
    return (info.st_size, info.st_mtime_ns) != (landing.size, landing.mtime_ns)


def _refused_before(engine: sa.Engine, digest: str, landing: LandingFile) -> FileResult | None:
    """A skip result when the same content was rejected or failed before and is waiting for
    re-admission, else None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(batches.c.id, batches.c.status)
            .where(
                batches.c.content_hash == digest,
                batches.c.status.in_(("rejected", "failed")),
                batches.c.readmitted_by.is_(None),
            )
            .order_by(batches.c.id.desc())
        ).first()
    if row is None:
        return None
    return FileResult(
        printable_path(landing.path),
        landing.source,
        "skipped",
        message=f"the same content was {row.status} as batch {row.id}; fix the suite or the "
        f"aliases, then `watchtower readmit {row.id}`",
    )


def _ingest_part(
    engine: sa.Engine,
    landing: LandingFile,
    part: Part,
    digest: str,
    *,
    clock: Clock,
    validator: Validator | None,
    known_managers: set[str] | None,
    index: ManagerIndex,
    aliases: Aliases | None,
    readmit: bool,
    received: dt.date,
) -> FileResult:
    path = landing.path
    where = LandingFile(path, part.source, landing.file_date)
    if (seen := _part_seen_before(engine, where, part, digest, readmit=readmit)) is not None:
        return seen
    if part.source is None:
        return _record_refusal(
            engine,
            where,
            digest,
            clock,
            "cannot tell the source from the headers ("
            + ", ".join(safe_header(c) for c in list(part.raw.columns)[:12])
            + "): add the headers to expectations/aliases.yaml, or put the file in managers/, "
            "funds/, cancellations/, reports/, events/ or incidents/",
            part=part.key,
            rows_read=len(part.raw),
            chunk=part.chunk,
        )
    source: Source = part.source
    try:
        parsed = parse_frame(
            source,
            part.raw,
            file_date=landing.file_date,
            ingest_date=clock.today(),
            aliases=aliases,
        )
    except MissingColumnError as exc:
        # A structural fault: the whole batch is refused, and its rows are counted as rejected.
        return _record_refusal(
            engine,
            where,
            digest,
            clock,
            str(exc),
            status="rejected",
            part=part.key,
            rows_read=len(part.raw),
            chunk=part.chunk,
        )

    failures, outcome = _gate(source, parsed, landing, validator, known_managers)
    rows_read = len(parsed.frame)
    bad_rows = sorted(failures)
    rejected = safe_message(outcome.rejected) if outcome.rejected else None
    good_frame = parsed.frame.drop(index=bad_rows)
    if not rejected:
        good_frame = _linked(source, good_frame, index)
    flags = {r: fs for r, fs in outcome.flags.items() if r not in failures}
    counts = _BatchCounts.of(rows_read, len(bad_rows), len(flags), rejected=rejected is not None)
    written = _write_batch(
        engine,
        source,
        where,
        part,
        digest,
        clock=clock,
        counts=counts,
        rows_read=rows_read,
        message=rejected,
        outcome=outcome,
        rows=None if rejected else _Rows(parsed, good_frame, failures, flags),
        received=received,
    )
    if written is None:  # another run loaded the same content meanwhile
        return FileResult(
            printable_path(path),
            source,
            "skipped",
            message="same content loaded concurrently by another run",
            part=part.key,
            chunk=part.chunk,
        )
    batch_id, plan = written
    if not rejected:
        _remember_managers(source, good_frame, index, known_managers)
    return FileResult(
        printable_path(path),
        source,
        counts.status,
        rows_read=rows_read,
        rows_loaded=counts.loaded,
        rows_quarantined=counts.quarantined,
        message=rejected,
        batch_id=batch_id,
        rows_flagged=counts.flagged,
        rows_rejected=counts.rejected,
        part=part.key,
        rows_unchanged=plan.unchanged if plan else 0,
        rows_corrected=plan.later if plan else 0,
        chunk=part.chunk,
    )


@dataclass(frozen=True)
class _BatchCounts:
    """A batch's status and row counts: a rejected batch loads, quarantines and flags
    nothing, and counts every row read as rejected."""

    status: str
    loaded: int
    quarantined: int
    flagged: int
    rejected: int

    @classmethod
    def of(cls, rows_read: int, bad_rows: int, flagged: int, *, rejected: bool) -> _BatchCounts:
        if rejected:
            return cls("rejected", 0, 0, 0, rows_read)
        return cls("loaded", rows_read - bad_rows, bad_rows, flagged, 0)


@dataclass(frozen=True)
class _Rows:
    """A parsed batch's rows: ``good`` to load, ``failures`` quarantined, ``flags`` odd."""

    parsed: ParsedFile
    good: pd.DataFrame
    failures: dict[int, list[RowFailure]]
    flags: dict[int, list[RowFailure]]


def _write_batch(
    engine: sa.Engine,
    source: Source,
    where: LandingFile,
    part: Part,
    digest: str,
    *,
    clock: Clock,
    counts: _BatchCounts,
    rows_read: int,
    message: str | None,
    outcome: GateOutcome,
    rows: _Rows | None,
    received: dt.date,
) -> tuple[int, VersionPlan | None] | None:
    """Write the batch, its validation results and its rows (None for a rejected batch) in
    one transaction.

    The batch id and the version plan; None when another run loaded the same content
    meanwhile. A failure of the store raises StoreFailure, a value it refuses DataError.
    """
    plan: VersionPlan | None = None
    try:
        with engine.begin() as conn:
            batch_id = _insert_batch(
                conn,
                where,
                digest,
                clock,
                status=counts.status,
                rows_read=rows_read,
                rows_loaded=counts.loaded,
                rows_quarantined=counts.quarantined,
                rows_rejected=counts.rejected,
                rows_flagged=counts.flagged,
                message=message,
                part=part.key,
            )
            if outcome.store is not None:
                outcome.store(conn, batch_id)
            if rows is not None:
                plan = _store_rows(
                    conn,
                    source,
                    where,
                    batch_id,
                    rows.parsed,
                    rows.good,
                    failures=rows.failures,
                    flags=rows.flags,
                    drift=outcome.drift,
                    received=received,
                )
    except IntegrityError as clash:
        # Another run loaded the same content meanwhile: the unique loaded_hash refused ours.
        if _loaded_before(engine, digest, where) is not None:
            return None
        raise StoreFailure(clash) from None
    except sa.exc.DataError:
        raise  # a value the store refuses (the content's fault): the caller records a failure
    except Exception as exc:
        raise StoreFailure(exc) from None
    return batch_id, plan


def _part_seen_before(
    engine: sa.Engine, where: LandingFile, part: Part, digest: str, *, readmit: bool
) -> FileResult | None:
    """A list or chunk of a file loaded before, or refused before (and not being
    re-admitted), is skipped like a whole file: its skip result, else None."""
    if part.key is None and part.chunk is None:
        return None  # the whole file: checked by the caller already
    seen = _loaded_before(engine, digest, where)
    if seen is None and not readmit:
        seen = _refused_before(engine, digest, where)
    return None if seen is None else replace(seen, part=part.key, chunk=part.chunk)


def _linked(source: Source, frame: pd.DataFrame, index: ManagerIndex) -> pd.DataFrame:
    """Funds linked to their managers, cancellations matched to theirs; others as they are."""
    if source == "funds":
        return link_funds(frame, index)
    if source == "cancellations":
        return match_cancellations(frame, index)
    return frame


def _remember_managers(
    source: Source, frame: pd.DataFrame, index: ManagerIndex, known_managers: set[str] | None
) -> None:
    """Managers just loaded, for the funds and cancellations of the same run to link to."""
    if source in ("managers", "manager_details"):
        index.add_frame(frame)
        if known_managers is not None and source == "managers":
            known_managers.update(frame["register_no"].dropna().astype(str))


def _gate(
    source: Source,
    parsed: ParsedFile,
    landing: LandingFile,
    validator: Validator | None,
    known_managers: set[str] | None,
) -> tuple[dict[int, list[RowFailure]], GateOutcome]:
    """The rows to quarantine (the parser's and the gate's) and what the gate decided."""
    failures = {row: list(fs) for row, fs in parsed.failures.items()}
    if validator is None:
        return failures, GateOutcome()
    good = parsed.frame.drop(index=list(failures))
    good = good.assign(file_date=pd.Timestamp(landing.file_date) if landing.file_date else pd.NaT)
    outcome = validator(source, good, frozenset(known_managers or ()))
    for row, fs in outcome.failures.items():
        failures.setdefault(int(row), []).extend(fs)
    return failures, outcome


def _store_rows(
    conn: sa.Connection,
    source: Source,
    where: LandingFile,
    batch_id: int,
    parsed: ParsedFile,
    good_frame: pd.DataFrame,
    *,
    failures: dict[int, list[RowFailure]],
    flags: dict[int, list[RowFailure]],
    drift: list[tuple[str, str, int]],
    received: dt.date,
) -> VersionPlan:
    """A loaded batch's rows (new versions only), its quarantine and its drift counts."""
    records = _records(source, good_frame, batch_id, flags)
    records, plan = _apply_versions(
        conn, source, records, where.file_date, received, parsed.columns_found
    )
    insert_rows(conn, HISTORY[source], records)
    conn.execute(
        batches.update()
        .where(batches.c.id == batch_id)
        .values(
            received=received,
            known_from_min=min((r["known_from"] for r in records), default=None),
            rows_unchanged=plan.unchanged,
            rows_corrected=plan.later,
        )
    )
    insert_rows(conn, quarantine, _quarantine_records(parsed, failures, batch_id))
    _count_drift(conn, source, drift, batch_id, where)
    return plan


def _apply_versions(
    conn: sa.Connection,
    source: Source,
    records: list[dict[str, Any]],
    delivery_date: dt.date | None,
    received: dt.date,
    feed: Iterable[str],
) -> tuple[list[dict[str, Any]], VersionPlan]:
    """The batch's records as stored: each with its version key and content hash, known from
    what :func:`decide_versions` decides, those unchanged left out."""
    keys = version_keys(source, records, delivery_date, feed)
    for r, key, digest in zip(records, keys, row_hashes(records), strict=True):
        r["version_key"] = key
        r["row_hash"] = digest
    plan = decide_versions(
        records,
        [r["known_from"] for r in records],
        existing_versions(conn, HISTORY[source], [r["version_key"] for r in records]),
        received,
    )
    kept = []
    for r, keep, known in zip(records, plan.keep, plan.known_from, strict=True):
        if keep:
            r["known_from"] = known
            kept.append(r)
    return kept, plan


def _count_drift(
    conn: sa.Connection,
    source: Source,
    drift: list[tuple[str, str, int]],
    batch_id: int,
    landing: LandingFile,
) -> None:
    """Add this batch's unknown enum values to the vocabulary-drift counts."""
    if not drift:
        return
    day = (
        landing.file_date
        or conn.execute(
            sa.select(sa.func.date(batches.c.ingested_at)).where(batches.c.id == batch_id)
        ).scalar_one()
    )
    if isinstance(day, str):
        day = pd.Timestamp(day).date()
    totals: dict[tuple[str, str], int] = {}
    for column, value, count in drift:
        totals[(column, value)] = totals.get((column, value), 0) + count
    for (column, value), count in totals.items():
        known = conn.execute(
            sa.select(vocabulary.c.id, vocabulary.c.first_seen, vocabulary.c.last_seen).where(
                vocabulary.c.source == source,
                vocabulary.c.field == column,
                vocabulary.c.value == value,
            )
        ).first()
        if known is None:
            conn.execute(
                vocabulary.insert().values(
                    source=source,
                    field=column,
                    value=value,
                    count=count,
                    first_batch_id=batch_id,
                    first_seen=day,
                    last_seen=day,
                )
            )
        else:
            conn.execute(
                vocabulary.update()
                .where(vocabulary.c.id == known.id)
                .values(
                    count=vocabulary.c.count + count,
                    first_seen=min(known.first_seen, day),
                    last_seen=max(known.last_seen, day),
                )
            )


def insert_rows(conn: sa.Connection, table: sa.Table, records: list[dict[str, Any]]) -> None:
    """Bulk insert inside the caller's transaction (executemany in chunks, each value through
    its column type's bind processor)."""
    insert_many(conn, table, records)


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
    rows_rejected: int = 0,
    rows_flagged: int = 0,
    part: str | None = None,
) -> int:
    result = conn.execute(
        batches.insert().values(
            source=landing.source or "unknown",
            file_name=printable_text(landing.path.name),
            file_path=printable_path(landing.path),
            content_hash=digest,
            loaded_hash=digest if status == "loaded" else None,
            status=status,
            file_date=landing.file_date,
            rows_read=rows_read,
            rows_loaded=rows_loaded,
            rows_quarantined=rows_quarantined,
            rows_rejected=rows_rejected,
            rows_flagged=rows_flagged,
            part=part,
            message=safe_message(message) if message else None,
            ingested_at=clock.now(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _record_refusal(
    engine: sa.Engine,
    landing: LandingFile,
    digest: str,
    clock: Clock,
    message: str,
    *,
    status: str = "failed",
    part: str | None = None,
    rows_read: int = 0,
    chunk: str | None = None,
) -> FileResult:
    """A batch refused whole: ``failed`` (unreadable, or its source cannot be told) or
    ``rejected`` (a structural fault). The rows read, if any, are counted as rejected, so the
    accounting still closes. The message goes through :func:`safe_message` (no secrets, one
    line) here, the one way a refusal reaches the store, the CLI and the DAG's XCom."""
    message = safe_message(f"{chunk}: {message}" if chunk else message)
    with engine.begin() as conn:
        batch_id = _insert_batch(
            conn,
            landing,
            digest,
            clock,
            status=status,
            rows_read=rows_read,
            rows_loaded=0,
            rows_quarantined=0,
            rows_rejected=rows_read,
            message=message,
            part=part,
        )
    return FileResult(
        printable_path(landing.path),
        landing.source,
        status,
        message=message,
        batch_id=batch_id,
        rows_read=rows_read,
        rows_rejected=rows_read,
        part=part,
        chunk=chunk,
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
    python_values: list[Any] = values.tolist()
    return python_values


_JSON_KINDS = ("json",)


def _records(
    source: Source, frame: pd.DataFrame, batch_id: int, flags: dict[int, list[RowFailure]]
) -> list[dict[str, Any]]:
    json_columns = [f.column for f in FIELDS[source] if f.kind in _JSON_KINDS]
    derived = [name for name, _ in DERIVED_COLUMNS.get(source, ())]
    plain = [f.column for f in FIELDS[source] if f.kind not in _JSON_KINDS]
    columns = [*plain, *derived, "known_from"]
    lists = [_db_values(frame[c]) for c in columns]
    lists += [
        [v if isinstance(v, list | dict | str) else None for v in frame[c]] for c in json_columns
    ]
    lists.append([e if isinstance(e, dict) else None for e in frame["extra"]])
    lists.append([_flag_dict(flags.get(int(r))) for r in frame.index])
    names = [*columns, *json_columns, "extra", "dq_flags", "batch_id", "row_number"]
    batch = [batch_id] * len(frame)
    rows = [int(r) for r in frame.index]
    return [
        dict(zip(names, values, strict=True)) for values in zip(*lists, batch, rows, strict=True)
    ]


def _json_value(value: object) -> object:
    return value if isinstance(value, list | dict | str) else None


def _flag_dict(failures: list[RowFailure] | None) -> dict[str, list[str]] | None:
    """A loaded row's flags, by field: {"managerName": ["expect_..._safe_text: holds markup"]}."""
    if not failures:
        return None
    out: dict[str, list[str]] = {}
    for f in failures:
        d = _failure_dict(f)
        out.setdefault(d["field"], []).append(f"{d['check']}: {d['reason']}")
    return out


def _quarantine_records(
    parsed: ParsedFile, failures: dict[int, list[RowFailure]], batch_id: int
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


def _failure_dict(failure: RowFailure) -> dict[str, str]:
    return {"field": failure.field, "check": failure.check, "reason": failure.reason}


@dataclass(frozen=True)
class ReadmitResult:
    """One refused batch admitted again: the old batch, what the new attempt did."""

    batch_id: int
    path: str
    results: list[FileResult]
    message: str | None = None  # why it could not be tried (e.g. the file is gone)


def run_readmit(
    engine: sa.Engine,
    batch_ids: Iterable[int] | None,
    *,
    clock: Clock,
    validator: Validator | None = None,
    aliases: Aliases | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[ReadmitResult]:
    """Ingest rejected or failed batches again (``batch_ids``; None: every one not yet
    re-admitted), with the suites and aliases as they are now.

    The old batch stays as it was and records the batch that replaced it (``readmitted_by``),
    whatever the new attempt's outcome, so the history shows both.
    """
    with engine.connect() as conn:
        query = sa.select(batches).where(
            batches.c.status.in_(("rejected", "failed")), batches.c.readmitted_by.is_(None)
        )
        if batch_ids is not None:
            ids = list(batch_ids)
            query = query.where(batches.c.id.in_(ids))
        rows = conn.execute(query.order_by(batches.c.id)).all()
    if batch_ids is not None:
        found = {int(r.id) for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            raise LookupError(
                "no rejected or failed batch waiting for re-admission with id "
                + ", ".join(map(str, missing))
            )
    index, known = manager_index(engine)
    out: list[ReadmitResult] = []
    for row in rows:
        path = Path(row.file_path)
        if not path.is_file():
            out.append(ReadmitResult(int(row.id), str(path), [], f"file not found: {path}"))
            continue
        landing = LandingFile(path, row.source if row.source != "unknown" else None, row.file_date)
        results = ingest_file(
            engine,
            landing,
            clock=clock,
            validator=validator,
            known_managers=known,
            index=index,
            aliases=aliases,
            readmit=True,
            only_part=row.part,
            limits=limits,  # as ingest read it: a streamed file's chunks are the same chunks
        )
        new_ids = [r.batch_id for r in results if r.batch_id is not None]
        with engine.begin() as conn:
            conn.execute(
                batches.update()
                .where(batches.c.id == row.id)
                .values(readmitted_by=new_ids[0] if new_ids else None)
            )
        out.append(ReadmitResult(int(row.id), str(path), results))
    loaded = [
        r.batch_id
        for rr in out
        for r in rr.results
        if r.status == "loaded" and r.batch_id is not None
    ]
    if loaded:
        derive_change_events(engine, batch_ids=loaded)
    return out
