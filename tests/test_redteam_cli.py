"""Red-team cases of issue 11 on the command line: hostile names cannot forge or rewrite what
a terminal shows, and environment failures are one line ``error: ...`` (exit 2), never a
traceback; ``synth`` refuses a world the machine cannot hold."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from tests.hostile import BIDI, FORGED_LINE, OVERWRITE
from tests.store_rows import loaded_batch
from tests.warn.scores import NOW, insert_scores, score_row
from watchtower import pipeline
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.models import models
from watchtower.store.schema import batches, manager_snapshots

runner = CliRunner()
AS_OF = dt.date(2024, 6, 28)
FORGED = FORGED_LINE
HOSTILE = {"P4000001": FORGED, "P4000002": OVERWRITE, "P4000003": BIDI}
# Anything that moves the cursor, ends a line or reorders text on a terminal.
_RAW = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _honest(output: str, lines: int | None = None) -> None:
    """Nothing in ``output`` drives the terminal, and no hostile name made a line of its own."""
    assert not _RAW.search(output), repr(output)
    assert not any(ln.startswith("FAKE ALERT") for ln in output.splitlines()), output
    if lines is not None:
        assert len(output.splitlines()) == lines, output


def _world(settings: Settings) -> sa.Engine:
    """Three managers whose names (and one jurisdiction) are hostile, scored red and warned;
    a refused batch and a model with hostile text."""
    engine = open_store(settings.db_url)
    with engine.begin() as c:
        batch_id = loaded_batch(
            c, source="managers", at=NOW, name="m.json", path="/m.json", content_hash="x", rows=3
        )
        c.execute(
            batches.insert().values(
                source="managers",
                file_name=FORGED,
                file_path=f"/landing/{OVERWRITE}.json",
                content_hash="y",
                status="failed",
                rows_read=0,
                rows_loaded=0,
                rows_quarantined=0,
                message=f"cannot read {FORGED}",
                ingested_at=NOW,
            )
        )
        for i, (reg, name) in enumerate(HOSTILE.items()):
            c.execute(
                manager_snapshots.insert().values(
                    batch_id=batch_id,
                    row_number=i + 1,
                    known_from=AS_OF,
                    register_no=reg,
                    manager_name=name,
                    artificial_person_name=OVERWRITE,
                    office_province="广东",
                    office_city="广州",
                )
            )
        c.execute(
            models.insert().values(
                id="m1",
                created_at=NOW,
                kind=FORGED,
                feature_set_version=BIDI,
                train_end=AS_OF,
                params={},
                data_fingerprint="f",
                metrics={},
                code_version="c",
                status="challenger",
                artifact_path="/x",
                artifact_sha256="0" * 64,
            )
        )
    insert_scores(
        engine,
        [
            score_row(
                reg, 95, as_of=AS_OF, name=name, city=OVERWRITE if reg == "P4000002" else "广州"
            )
            for reg, name in HOSTILE.items()
        ],
    )
    pipeline.warn(settings, AS_OF, clock=FixedClock(NOW))
    return engine


def test_alert_commands_show_hostile_names_escaped(settings: Settings, tmp_path: Path) -> None:
    _world(settings)
    r = runner.invoke(app, ["alerts", "list"])
    assert r.exit_code == 0, r.output
    _honest(r.output, lines=3)
    assert "Evil\\nFAKE ALERT red 100" in r.output and "\\x1b[2K\\rinnocent" in r.output
    assert "\\u202eevil" in r.output
    for reg in HOSTILE:
        r = runner.invoke(app, ["alerts", "show", reg])
        assert r.exit_code == 0, r.output
        _honest(r.output)
    # --json: valid JSON with the names as they are, but no raw bidi control on the screen
    r = runner.invoke(app, ["alerts", "list", "--json"])
    _honest(r.output)
    assert {a["manager_name"] for a in json.loads(r.output)} == set(HOSTILE.values())
    # the actor as typed is kept in the audit and shown escaped
    r = runner.invoke(app, ["alerts", "ack", "P4000001", "--by", OVERWRITE, "--note", FORGED])
    assert r.exit_code == 0, r.output
    _honest(r.output, lines=1)
    r = runner.invoke(app, ["alerts", "show", "P4000001", "--json"])
    assert json.loads(r.output)["events"][-1]["actor"] == OVERWRITE
    r = runner.invoke(app, ["alerts", "show", "P4000001"])
    _honest(r.output)
    assert "\\x1b[2K\\rinnocent" in r.output
    # an id that does not exist, typed hostile, comes back escaped in the error
    r = runner.invoke(app, ["alerts", "show", BIDI])
    assert r.exit_code == 2
    _honest(r.stderr, lines=1)
    # CSV: one row per alert, every cell escaped and formula-neutralised
    out = tmp_path / "alerts.csv"
    r = runner.invoke(app, ["alerts", "export", str(out), "--all"])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8-sig")
    _honest(text.replace("\r\n", "\n"))
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 3
    assert {x["manager_name"] for x in rows} == {
        "Evil\\nFAKE ALERT red 100",
        "\\x1b[2K\\rinnocent",
        "\\u202eevil reversed",
    }


def test_profile_quality_and_models_show_hostile_text_escaped(settings: Settings) -> None:
    _world(settings)
    for reg in HOSTILE:
        r = runner.invoke(app, ["managers", "show", reg, "--as-of", str(AS_OF)])
        assert r.exit_code == 0, r.output
        _honest(r.output)
        r = runner.invoke(app, ["managers", "show", reg, "--as-of", str(AS_OF), "--json"])
        _honest(r.output)
    r = runner.invoke(app, ["quality", "--batches"])
    assert r.exit_code == 0, r.output
    _honest(r.output, lines=2)
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0, r.output
    _honest(r.output, lines=1)
    assert "Evil\\nFAKE ALERT red 100" in r.output and "\\u202eevil" in r.output
    r = runner.invoke(app, ["models", "show", "m1"])
    _honest(r.output)
    assert json.loads(r.output)["feature_set_version"] == BIDI


def test_validate_shows_hostile_file_names_escaped(settings: Settings, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / f"{OVERWRITE}.csv").write_text("no,header\n1,2\n", encoding="utf-8")
    (landing / "x\nFAKE ALERT.json").write_text('[{"registerNo": "\\u202e1"}]', encoding="utf-8")
    r = runner.invoke(app, ["validate", str(landing), "--no-docs", "--quiet"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    _honest(r.output)
    assert "\\x1b[2K\\rinnocent.csv" in r.output


# --- one-line errors ----------------------------------------------------------------------


def _one_line_error(r: Result) -> str:
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def test_a_corrupt_store_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(8192))
    line = _one_line_error(runner.invoke(app, ["alerts", "list", "--db", f"sqlite:///{path}"]))
    assert "random.db" in line and "not a database" in line


def test_a_text_file_as_the_store_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("这不是数据库 / not a database\n" * 100, encoding="utf-8")
    line = _one_line_error(runner.invoke(app, ["warn", "--db", f"sqlite:///{path}"]))
    assert "notes.txt" in line


def test_an_unreachable_postgresql_is_one_line_without_the_password() -> None:
    url = "postgresql+psycopg://u:s3cretpw@127.0.0.1:1/x"
    r = runner.invoke(app, ["alerts", "list", "--db", url])
    line = _one_line_error(r)
    assert "127.0.0.1" in line and "s3cretpw" not in r.output
    assert "s3cretpw" not in r.stderr


def test_a_home_that_cannot_be_written_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    monkeypatch.setenv("WATCHTOWER_HOME", str(blocker / "home"))  # fails even for root
    line = _one_line_error(runner.invoke(app, ["alerts", "list"]))
    assert "WATCHTOWER_HOME" in line
    if os.geteuid() != 0:  # root writes anywhere: only the case above then
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
        monkeypatch.setenv("WATCHTOWER_HOME", str(ro / "var"))
        try:
            _one_line_error(runner.invoke(app, ["alerts", "list"]))
        finally:
            ro.chmod(stat.S_IRWXU)


def test_export_to_a_folder_is_one_line(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    line = _one_line_error(runner.invoke(app, ["alerts", "export", str(folder), "--all"]))
    assert "a-folder" in line


@pytest.mark.parametrize(
    "args",
    [
        ["warn", "--as-of", "0001-01-01"],
        ["warn", "--as-of", "9999-12-31"],
        ["alerts", "export", "out.csv", "--as-of", "0001-01-01"],
        ["managers", "show", "P1000001", "--as-of", "0001-01-01"],
        ["backtest", "--start", "0001-01-01", "--end", "2024-01-01"],
    ],
)
def test_absurd_days_are_one_line(settings: Settings, args: list[str]) -> None:
    line = _one_line_error(runner.invoke(app, args))
    assert "outside 1990-01-01..2100-12-31" in line


def test_synth_refuses_a_world_the_machine_cannot_hold(tmp_path: Path) -> None:
    """Before the check, 10^8 managers ran into 8 GB; now refused before anything is drawn.
    The generator is imported first: the time measured is the command's, not the import's."""
    import watchtower.synth  # noqa: F401

    t = time.perf_counter()
    r = runner.invoke(app, ["synth", str(tmp_path / "w"), "--managers", "100000000"])
    seconds = time.perf_counter() - t
    line = _one_line_error(r)
    assert "at most" in line and "managers fit" in line
    assert seconds < 1.0
    assert not (tmp_path / "w").exists()


def test_world_size_check_says_what_fits() -> None:
    from watchtower.synth import check_world_size, world_memory

    start, end = dt.date(2022, 1, 1), dt.date(2024, 12, 31)
    gb = 2**30
    check_world_size(300, start, end, available=gb)  # the demo fits in 1 GB
    with pytest.raises(ValueError, match=r"at most ([\d,]+) managers fit") as info:
        check_world_size(100_000, start, end, available=4 * gb)
    said = re.search(r"at most ([\d,]+)", str(info.value))
    assert said is not None
    fits = int(said.group(1).replace(",", ""))
    assert world_memory(fits, start, end) <= 4 * gb < world_memory(fits + 1, start, end)
    check_world_size(fits, start, end, available=4 * gb)
