"""Bounded memory (issue 11, item 8, ingestion side): large CSV and JSON Lines files are
read in chunks, each chunk a batch of its own, so validation and insert run per chunk.

The chunk size and the size above which a file is streamed are parameters
(:class:`ReadLimits`): these tests use a few hundred rows; the 200 MB case is measured by
hand (docs/benchmarks.md, "Ingesting one large file"). On main a 200 MB CSV took 5.1 GB.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.ingest.test_ingest import MANAGERS_CAMEL, _rows, write_csv
from watchtower.clock import FixedClock
from watchtower.contract import Source
from watchtower.ingest import GateOutcome, run_ingest, run_readmit
from watchtower.ingest import steps as ingest_steps
from watchtower.ingest.readers import ReadError, ReadLimits
from watchtower.ingest.shapes import check_size, streams
from watchtower.store import open_store
from watchtower.store.schema import batches, change_events, manager_snapshots, quarantine

CLOCK = FixedClock(dt.datetime(2024, 12, 1, 8, 0))
SMALL = ReadLimits(stream_above_bytes=0, chunk_rows=300)  # every CSV/JSONL streamed
MB = 1024 * 1024


def _rows_with_gaps(n: int, missing_key_at: tuple[int, ...]) -> list[list[str]]:
    rows = _rows(n)
    for record in missing_key_at:
        rows[record - 1][0] = ""  # no register number: quarantined
    return rows


def _batches(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(batches).order_by(batches.c.id)))


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_large_csv_is_read_in_chunks_each_a_batch_every_row_accounted(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    bad = (10, 450, 999)
    write_csv(
        landing / "managers" / "managers_2024-06-30.csv",
        MANAGERS_CAMEL,
        _rows_with_gaps(1000, bad),
        "utf-8",
    )
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK, limits=SMALL)
    assert [r.chunk for r in summary.results] == [
        "rows 1-300",
        "rows 301-600",
        "rows 601-900",
        "rows 901-1000",
    ]
    assert [r.rows_read for r in summary.results] == [300, 300, 300, 100]
    assert summary.files == 1 and summary.batches == 4 and summary.files_loaded == 4
    assert (
        summary.rows_read
        == 1000
        == (summary.rows_loaded + summary.rows_quarantined + summary.rows_rejected)
    )
    assert (summary.rows_loaded, summary.rows_quarantined) == (997, 3)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(quarantine.c.row_number).order_by("row_number")).scalars()
        assert tuple(rows) == bad  # the file's record numbers, not the chunk's
    stored = _batches(engine)
    assert all(b.part is None for b in stored)  # one feed, as the whole file was
    assert len({b.content_hash for b in stored}) == 4
    assert _count(engine, manager_snapshots) == 997

    again = run_ingest(engine, landing, clock=CLOCK, limits=SMALL)
    assert [r.status for r in again.results] == ["skipped"] * 4
    assert len(_batches(engine)) == 4 and _count(engine, manager_snapshots) == 997


def test_a_large_json_lines_file_is_read_in_chunks(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.jsonl"
    path.parent.mkdir(parents=True)
    records = [dict(zip(MANAGERS_CAMEL, r, strict=True)) for r in _rows(700)]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK, limits=SMALL)
    assert [r.rows_read for r in summary.results] == [300, 300, 100]
    assert summary.rows_loaded == 700 and _count(engine, manager_snapshots) == 700


def test_a_chunk_that_cannot_be_read_is_a_failed_batch_and_the_chunks_before_stay(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.csv"
    rows = _rows(800)
    rows[699] = [*rows[699], "one field too many"]  # record 700: the CSV breaks there
    write_csv(path, MANAGERS_CAMEL, rows, "utf-8")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK, limits=SMALL)
    assert [r.status for r in summary.results] == ["loaded", "loaded", "failed"]
    assert "malformed CSV" in (summary.results[-1].message or "")
    assert _count(engine, manager_snapshots) == 600
    again = run_ingest(engine, landing, clock=CLOCK, limits=SMALL)
    assert [r.status for r in again.results] == ["skipped"]  # refused before: until readmit
    assert len(_batches(engine)) == 3

    rows[699] = rows[699][:-1]  # the data engineer fixes the file
    write_csv(path, MANAGERS_CAMEL, rows, "utf-8")
    fixed = run_ingest(engine, landing, clock=CLOCK, limits=SMALL)
    assert fixed.rows_read == 800 and fixed.rows_unchanged == 600  # the same rows: kept once
    assert _count(engine, manager_snapshots) == 800


def test_a_refused_chunk_is_skipped_until_readmitted(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "managers" / "managers_2024-06-30.csv", MANAGERS_CAMEL, _rows(600), "utf-8")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")

    def reject_second_chunk(
        source: Source, frame: pd.DataFrame, known: frozenset[str]
    ) -> GateOutcome:
        # the gate refuses the second chunk (records 301-600) as a whole
        return GateOutcome(rejected="too odd" if frame.index.min() > 300 else None)

    first = run_ingest(engine, landing, clock=CLOCK, limits=SMALL, validator=reject_second_chunk)
    assert [r.status for r in first.results] == ["loaded", "rejected"]
    assert first.results[1].message == "too odd" and first.results[1].chunk == "rows 301-600"
    again = run_ingest(engine, landing, clock=CLOCK, limits=SMALL, validator=reject_second_chunk)
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    assert "readmit" in (again.results[1].message or "") and len(_batches(engine)) == 2
    rejected = _batches(engine)[1]
    [done] = run_readmit(engine, [rejected.id], clock=CLOCK, limits=SMALL)
    assert [r.status for r in done.results] == ["skipped", "loaded"]


def test_which_files_are_streamed_and_which_refused() -> None:
    limits = ReadLimits()
    assert streams(Path("big.csv"), 17 * MB, limits) and streams(Path("big.jsonl"), 17 * MB)
    assert not streams(Path("small.csv"), 1 * MB) and not streams(Path("big.json"), 17 * MB)
    check_size(Path("big.csv"), 3000 * MB, limits)  # streamed: not refused
    for path, size, says in (
        (Path("huge.csv"), 5000 * MB, "above the 4096 MB limit"),
        (Path("big.json"), 300 * MB, "deliver it as CSV or JSON Lines"),
        (Path("big.xlsx"), 300 * MB, "deliver it as CSV or JSON Lines"),
    ):
        try:
            check_size(path, size, limits)
        except ReadError as exc:
            assert says in str(exc)
        else:
            raise AssertionError(f"{path} of {size} bytes was not refused")


def _events(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(change_events.c.natural_key)).scalars())


def test_change_events_derived_in_groups_are_the_same_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loaded batches' change events are derived a group of batches at a time (the
    history in memory stays bounded); a manager's events depend on its history only."""
    landing = tmp_path / "landing"
    june = _rows(600)
    july = _rows(590)  # ten managers left the list
    for r in july[::50]:
        r[1] = r[1] + "（更名）"  # renamed
        r[8] = "是"  # blacklisted
    write_csv(landing / "managers" / "managers_2024-06-30.csv", MANAGERS_CAMEL, june, "utf-8")
    write_csv(landing / "managers" / "managers_2024-07-31.csv", MANAGERS_CAMEL, july, "utf-8")
    whole = open_store(f"sqlite:///{tmp_path / 'whole.db'}")
    one_group = run_ingest(whole, landing, clock=CLOCK, limits=SMALL)
    monkeypatch.setattr(ingest_steps, "EVENT_GROUP_ROWS", 300)
    grouped = open_store(f"sqlite:///{tmp_path / 'grouped.db'}")
    in_groups = run_ingest(grouped, landing, clock=CLOCK, limits=SMALL)
    assert one_group.batches == in_groups.batches == 4
    assert len(ingest_steps._event_groups(in_groups.results)) == 4
    assert one_group.change_events == in_groups.change_events > 10
    assert _events(whole) == _events(grouped)


def test_event_groups_bound_the_rows_derived_at_once() -> None:
    from watchtower.ingest.steps import FileResult, _event_groups

    def loaded(batch: int, rows: int) -> FileResult:
        return FileResult("f", "managers", "loaded", rows_loaded=rows, batch_id=batch)

    results = [loaded(1, 300), loaded(2, 300), FileResult("g", None, "failed"), loaded(3, 900)]
    assert _event_groups(results, rows=600) == [[1, 2], [3]]
    assert _event_groups(results, rows=10_000) == [[1, 2, 3]]
    assert _event_groups([]) == []
