"""The landing protocol (issue 11, item 5): a file still being written is not ingested.

A file is read once a ``<name>.done`` marker sits beside it or it has not been modified for
the settle time by the wall clock (injected here, so nothing depends on real time); partial
and hidden names are never read; a file not ready is *waiting*: not failed, not recorded,
read by a later run. On main a half-written file was ingested, then the complete one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.ingest.test_ingest import MANAGERS_CAMEL, _rows, write_csv
from watchtower.clock import FixedClock
from watchtower.config import ConfigError, Settings, load_settings
from watchtower.ingest import IngestSummary, run_ingest
from watchtower.ingest.discover import LandingFile, readiness, scan
from watchtower.ingest.steps import ingest_file
from watchtower.store import open_store
from watchtower.store.schema import batches, manager_snapshots
from watchtower.validate.steps import run_landing_validation

CLOCK = FixedClock(dt.datetime(2024, 12, 1, 8, 0))  # the batches' clock (a replay's day)
LANDED = dt.datetime(2026, 3, 2, 9, 0)  # when the files land, by the wall clock


def _at(seconds: float) -> FixedClock:
    """The wall clock ``seconds`` after the files landed."""
    return FixedClock(LANDED + dt.timedelta(seconds=seconds))


def _touch(path: Path, seconds: float = 0.0) -> None:
    """Set ``path``'s modification time to ``seconds`` after LANDED (UTC)."""
    when = (LANDED + dt.timedelta(seconds=seconds)).replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (when, when))


def _records(n: int) -> list[dict[str, str]]:
    return [dict(zip(MANAGERS_CAMEL, row, strict=True)) for row in _rows(n)]


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_readiness_is_a_marker_or_a_settled_file() -> None:
    assert readiness(age_seconds=61, marked=False, settle_seconds=60) == (True, None)
    assert readiness(age_seconds=1, marked=True, settle_seconds=60) == (True, None)
    assert readiness(age_seconds=0, marked=False, settle_seconds=0) == (True, None)
    ready, why = readiness(age_seconds=5, marked=False, settle_seconds=60)
    assert not ready and why is not None and "5 s ago" in why and ".done" in why
    ready, why = readiness(age_seconds=-300, marked=False, settle_seconds=60)  # clock skew
    assert not ready and why is not None and "0 s ago" in why


def test_a_half_written_file_waits_and_loads_once_complete_and_settled(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.json"
    path.parent.mkdir(parents=True)
    whole = json.dumps(_records(3), ensure_ascii=False)
    path.write_text(whole[: len(whole) // 2])  # the writer is half way through
    _touch(path)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")

    def run(wall: FixedClock) -> IngestSummary:
        return run_ingest(engine, landing, clock=CLOCK, settle_seconds=60, wall_clock=wall)

    first = run(_at(5))
    assert (first.files_waiting, first.results, _count(engine, batches)) == (1, [], 0)
    assert first.waiting == [str(path)]

    path.write_text(whole)  # the writer finishes 30 s after it began
    _touch(path, 30)
    assert run(_at(40)).files_waiting == 1  # modified 10 s ago: still waiting
    done = run(_at(91))
    assert (done.files_loaded, done.rows_loaded, done.files_waiting) == (1, 3, 0)
    again = run(_at(500))
    assert (again.files_skipped, again.files_loaded) == (1, 0)
    assert _count(engine, batches) == 1 and _count(engine, manager_snapshots) == 3


def test_a_done_marker_makes_a_file_ready_at_once(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.csv"
    write_csv(path, MANAGERS_CAMEL, _rows(2), "utf-8")
    _touch(path)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    waiting = run_ingest(engine, landing, clock=CLOCK, settle_seconds=60, wall_clock=_at(1))
    assert waiting.files_waiting == 1
    Path(f"{path}.done").touch()  # the writer says it is complete; the marker is not data
    summary = run_ingest(engine, landing, clock=CLOCK, settle_seconds=60, wall_clock=_at(2))
    assert (summary.files_loaded, summary.batches, summary.rows_loaded) == (1, 1, 2)


def test_partial_and_hidden_names_are_never_read(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    folder = landing / "managers"
    good = folder / "managers_2024-06-30.csv"
    write_csv(good, MANAGERS_CAMEL, _rows(2), "utf-8")
    for name in (
        ".managers_2024-07-31.csv",
        "managers_2024-07-31.csv.part",
        "managers_2024-07-31.csv.partial",
        "managers_2024-07-31.csv.crdownload",
        "managers_2024-07-31.csv.tmp",
        "managers_2024-07-31.csv.filepart",
        "managers_2024-06-30.csv.done",
    ):
        (folder / name).write_text(",".join(MANAGERS_CAMEL) + "\nP1,half")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert [Path(r.path).name for r in summary.results] == [good.name]
    assert summary.files_failed == 0 and _count(engine, batches) == 1


def test_a_file_that_changed_since_it_was_found_waits(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.csv"
    write_csv(path, MANAGERS_CAMEL, _rows(2), "utf-8")
    [found] = scan(landing).files
    with path.open("a") as handle:  # the writer appends after discovery
        handle.write(",".join(_rows(1, start=9)[0]) + "\n")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    [result] = ingest_file(engine, found, clock=CLOCK)
    assert result.status == "waiting" and _count(engine, batches) == 0
    assert found.size is not None and isinstance(found, LandingFile)


def test_the_scheduled_ingest_waits_once_for_files_about_to_settle(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.csv"
    write_csv(path, MANAGERS_CAMEL, _rows(2), "utf-8")
    _touch(path, -20)  # fetched 20 s before the ingest began

    class Wall:
        def __init__(self) -> None:
            self.slept = 0.0

        def today(self) -> dt.date:
            return self.now().date()

        def now(self) -> dt.datetime:
            return LANDED + dt.timedelta(seconds=self.slept)

        def sleep(self, seconds: float) -> None:
            self.slept += seconds

    wall = Wall()
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(
        engine, landing, clock=CLOCK, settle_seconds=60, wall_clock=wall, sleep=wall.sleep
    )
    assert summary.files_loaded == 1 and summary.files_waiting == 0
    assert 40 <= wall.slept <= 41  # the youngest file's remaining settle time, once


def test_the_cli_reports_waiting_files_and_reads_them_later(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchtower.cli import app

    monkeypatch.setenv("WATCHTOWER_LANDING_SETTLE_SECONDS", "3600")
    slept: list[float] = []
    monkeypatch.setattr("watchtower.pipeline.time.sleep", slept.append)
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.csv"
    write_csv(path, MANAGERS_CAMEL, _rows(2), "utf-8")  # written just now
    result = CliRunner().invoke(app, ["ingest", str(landing), "--quiet"])
    assert result.exit_code == 0, result.output  # waiting is not a failure
    assert "waiting: 1 files not read yet" in result.stderr and "1 files waiting" in result.stdout
    assert len(slept) == 1  # it waited once (here: not really) before giving up for this run
    Path(f"{path}.done").touch()
    result = CliRunner().invoke(app, ["ingest", str(landing), "--json", "--quiet"])
    assert json.loads(result.stdout)["rows_loaded"] == 2


def test_the_dry_run_lists_waiting_files(settings: Settings, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    path = landing / "managers" / "managers_2024-06-30.csv"
    write_csv(path, MANAGERS_CAMEL, _rows(2), "utf-8")
    _touch(path)
    strict = Settings(**{**settings.__dict__, "landing_settle_seconds": 60.0})
    summary = run_landing_validation(
        None, strict, landing, today=CLOCK.today(), build_docs=False, wall_clock=_at(3)
    )
    assert summary.files == 0 and len(summary.waiting) == 1 and str(path) in summary.waiting[0]


def test_the_settle_time_is_a_checked_setting() -> None:
    assert load_settings({}).landing_settle_seconds == 60.0
    assert load_settings({"WATCHTOWER_LANDING_SETTLE_SECONDS": "0"}).landing_settle_seconds == 0
    with pytest.raises(ConfigError, match="WATCHTOWER_LANDING_SETTLE_SECONDS"):
        load_settings({"WATCHTOWER_LANDING_SETTLE_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="WATCHTOWER_LANDING_MAX_FILE_MB"):
        load_settings({"WATCHTOWER_LANDING_MAX_FILE_MB": "-1"})
