"""Corrections in time (issue 11, item 2): a record's first version is known from its snapshot
date, a later version of the same (key, snapshot date) from the day it was received; files
are applied in snapshot and landing order, not name order; a day's features are recomputed
when what was known by that day changed; a re-delivered event counts once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.detect._scoring import features_at, load_catalog
from watchtower.ingest import run_ingest
from watchtower.ingest.versions import Existing, decide_versions
from watchtower.store import open_store
from watchtower.store.schema import batches, events, manager_snapshots

SNAPSHOT = dt.date(2024, 12, 31)
LATER = dt.date(2025, 1, 5)
CLOCK = FixedClock(dt.datetime(2025, 1, 5, 9, 0))
HEADER = ["registerNo", "managerName", "registerDate", "paidInCapital", "inBlacklist"]


def _managers(blacklisted: bool, n: int = 3) -> list[list[str]]:
    return [
        [
            f"P10000{i:02d}",
            f"测试管理人{i}号",
            "2016-02-03",
            "250",
            "是" if blacklisted and i == 0 else "否",
        ]
        for i in range(n)
    ]


def _write(path: Path, header: list[str], rows: list[list[str]], *, landed: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")
    os.utime(path, (landed, landed))  # when the file landed: receipt order within a run
    return path


def _blacklisted(frame: pd.DataFrame) -> float:
    return float(frame.loc["P1000000", "in_blacklist"])


@pytest.fixture
def engine(settings: Settings) -> sa.Engine:
    return open_store(settings.db_url)


def test_a_correction_is_known_from_its_receipt_and_a_replay_of_the_day_before_does_not_see_it(
    tmp_path: Path, engine: sa.Engine
) -> None:
    first = tmp_path / "first"
    _write(first / "managers" / f"managers_{SNAPSHOT}.csv", HEADER, _managers(False), landed=1e9)
    run_ingest(engine, first, clock=CLOCK, received=SNAPSHOT)
    fixed = tmp_path / "fixed"
    _write(fixed / "managers" / f"managers_{SNAPSHOT}_v2.csv", HEADER, _managers(True), landed=2e9)
    summary = run_ingest(engine, fixed, clock=CLOCK, received=LATER)
    assert (summary.rows_loaded, summary.rows_unchanged, summary.rows_corrected) == (3, 2, 1)
    with engine.connect() as c:
        known = c.execute(
            sa.select(manager_snapshots.c.known_from, manager_snapshots.c.in_blacklist)
            .where(manager_snapshots.c.register_no == "P1000000")
            .order_by(manager_snapshots.c.id)
        ).all()
        received = c.execute(sa.select(batches.c.received).order_by(batches.c.id)).scalars()
        assert list(received) == [SNAPSHOT, LATER]
    assert [tuple(r) for r in known] == [(SNAPSHOT, False), (LATER, True)]


def test_a_rerun_of_a_day_recomputes_its_features_after_a_correction_known_by_that_day(
    tmp_path: Path, settings: Settings, engine: sa.Engine
) -> None:
    catalog = load_catalog(settings)
    first = tmp_path / "first"
    _write(first / "managers" / f"managers_{SNAPSHOT}.csv", HEADER, _managers(False), landed=1e9)
    run_ingest(engine, first, clock=CLOCK, received=SNAPSHOT)
    assert _blacklisted(features_at(engine, catalog, SNAPSHOT)) == 0.0
    assert _blacklisted(features_at(engine, catalog, LATER)) == 0.0
    fixed = tmp_path / "fixed"
    _write(fixed / "managers" / f"managers_{SNAPSHOT}_v2.csv", HEADER, _managers(True), landed=2e9)
    run_ingest(engine, fixed, clock=CLOCK, received=LATER)
    # what was known by 2024-12-31 did not change: its stored features stand
    assert _blacklisted(features_at(engine, catalog, SNAPSHOT)) == 0.0
    # what was known by 2025-01-05 did: the stored snapshot of that day is recomputed
    assert _blacklisted(features_at(engine, catalog, LATER)) == 1.0
    # a same-day correction changes what the day itself knew
    same_day = tmp_path / "same_day"
    rows = _managers(True)
    rows[1][3] = "300"
    _write(same_day / "managers" / f"managers_{SNAPSHOT}_v3.csv", HEADER, rows, landed=3e9)
    run_ingest(engine, same_day, clock=CLOCK, received=SNAPSHOT)
    frame = features_at(engine, catalog, SNAPSHOT)
    assert frame.loc["P1000001", "paid_in_capital"] == 300.0


def test_within_a_run_the_correction_that_landed_last_wins_whatever_the_names(
    tmp_path: Path, settings: Settings, engine: sa.Engine
) -> None:
    landing = tmp_path / "landing"
    # the correction's name sorts first, but it landed after the original
    _write(
        landing / "managers" / f"a_fix_managers_{SNAPSHOT}.csv", HEADER, _managers(True), landed=2e9
    )
    _write(landing / "managers" / f"managers_{SNAPSHOT}.csv", HEADER, _managers(False), landed=1e9)
    run_ingest(engine, landing, clock=CLOCK, received=SNAPSHOT)
    frame = features_at(engine, load_catalog(settings), SNAPSHOT)
    assert _blacklisted(frame) == 1.0


def test_a_redelivered_event_counts_once(
    tmp_path: Path, settings: Settings, engine: sa.Engine
) -> None:
    header = ["registerNo", "eventDate", "eventType", "severity", "description"]
    event = ["P1000000", "2024-11-01", "涉诉", "3", "合同纠纷"]
    other = ["P1000000", "2024-12-01", "涉诉", "3", "借款纠纷"]
    landing = tmp_path / "landing"
    _write(landing / "managers" / f"managers_{SNAPSHOT}.csv", HEADER, _managers(False), landed=1e9)
    _write(landing / "events" / "events_2024-11.csv", header, [event], landed=1e9)
    # the next delivery repeats November's event beside December's
    _write(landing / "events" / "events_2024-12.csv", header, [event, other], landed=2e9)
    summary = run_ingest(engine, landing, clock=CLOCK, received=SNAPSHOT)
    assert summary.rows_unchanged == 1
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 2
    frame = features_at(engine, load_catalog(settings), SNAPSHOT)
    assert frame.loc["P1000000", "events_365d"] == 2.0


def test_decide_versions_first_unchanged_and_correction() -> None:
    existing = {
        k: Existing(latest_hash=h, latest_known_from=SNAPSHOT)
        for k, h in (("k1", "h1"), ("k2", "h2"))
    }
    rows = [
        {"version_key": "k0", "row_hash": "h0"},  # nothing stored: the first version
        {"version_key": "k1", "row_hash": "h1"},  # the same content: unchanged
        {"version_key": "k2", "row_hash": "h2x"},  # other content: a correction
    ]
    plan = decide_versions(rows, [SNAPSHOT] * 3, existing, LATER)
    assert plan.keep == (True, False, True)
    assert plan.known_from == (SNAPSHOT, SNAPSHOT, LATER)
    assert (plan.first, plan.unchanged, plan.later) == (1, 1, 1)
    # received before the newest version's day (a replayed delivery): never before it
    early = decide_versions(rows[2:], [SNAPSHOT], existing, dt.date(2024, 1, 1))
    assert early.known_from == (SNAPSHOT,)


def test_two_feeds_of_one_day_are_not_corrections_of_each_other(
    tmp_path: Path, engine: sa.Engine
) -> None:
    """The public list and a supervisor's export describe the same manager on the same day
    in their own fields: both are first versions, known from the snapshot date."""
    landing = tmp_path / "landing"
    _write(landing / "managers" / f"managers_{SNAPSHOT}.csv", HEADER, _managers(False), landed=1e9)
    other = ["registerNo", "managerName", "registerDate", "employeeCount"]
    rows = [[f"P10000{i:02d}", f"测试管理人{i}号", "2016-02-03", "12"] for i in range(3)]
    _write(landing / "managers" / f"export_managers_{SNAPSHOT}.csv", other, rows, landed=2e9)
    summary = run_ingest(engine, landing, clock=CLOCK, received=LATER)
    assert (summary.rows_corrected, summary.rows_unchanged) == (0, 0)
    with engine.connect() as c:
        known = c.execute(sa.select(manager_snapshots.c.known_from).distinct()).scalars().all()
    assert known == [SNAPSHOT]
