"""Poison files are just failed files (issue 11, item 4).

Each case here stopped ingestion on main before the fix (a traceback, a RecursionError, an
aborted process, or a secret copied into the store): now it is one failed batch with a
one-line message, the files after it load, and a re-run skips it until `watchtower readmit`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.ingest.test_ingest import MANAGERS_CAMEL, _rows, write_csv
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.contract import Source
from watchtower.ingest import parse, run_ingest, run_readmit, shapes
from watchtower.ingest import steps as ingest_steps
from watchtower.ingest.discover import scan
from watchtower.ingest.readers import safe_header, safe_message
from watchtower.ingest.steps import ingest_file
from watchtower.store import open_store
from watchtower.store.schema import batches, manager_snapshots
from watchtower.validate.steps import run_landing_validation

CLOCK = FixedClock(dt.datetime(2024, 12, 1, 8, 0))
DEEP = 100_000


def _batches(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(batches).order_by(batches.c.id)))


def _snapshots(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(manager_snapshots)).scalar_one()
        )


def _good(landing: Path, day: str = "2024-06-30", n: int = 3) -> Path:
    path = landing / "managers" / f"managers_{day}.csv"
    write_csv(path, MANAGERS_CAMEL, _rows(n), "utf-8")
    return path


# --- names that are not UTF-8 -----------------------------------------------------------------


def _non_utf8_file(landing: Path, content: bytes) -> bytes:
    """A file whose name holds the bytes FF FE (invalid UTF-8), written at the OS level."""
    folder = os.fsencode(landing / "managers")
    os.makedirs(folder, exist_ok=True)
    name = folder + b"/managers_\xff\xfe_2024-06-30.csv"
    with open(name, "wb") as handle:
        handle.write(content)
    return name


def _csv_bytes(n: int) -> bytes:
    lines = [",".join(MANAGERS_CAMEL)] + [",".join(r) for r in _rows(n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_a_file_name_that_is_not_utf8_is_ingested_and_stored_escaped(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _non_utf8_file(landing, _csv_bytes(4))
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert (summary.files_loaded, summary.rows_loaded) == (1, 4)
    [b] = _batches(engine)
    assert b.file_name == "managers_\\xff\\xfe_2024-06-30.csv"  # printable, no lone surrogate
    b.file_path.encode("utf-8")  # no surrogates: any store and terminal takes it
    assert summary.results[0].path.endswith("managers_\\xff\\xfe_2024-06-30.csv")
    again = run_ingest(engine, landing, clock=CLOCK)
    assert again.files_skipped == 1 and len(_batches(engine)) == 1


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_a_failed_file_with_a_non_utf8_name_is_a_failed_batch(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _non_utf8_file(landing, b"\x00\x01 not text")
    _good(landing, "2024-07-31")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert (summary.files_failed, summary.files_loaded) == (1, 1)
    failed = next(b for b in _batches(engine) if b.status == "failed")
    assert failed.file_name == "managers_\\xff\\xfe_2024-06-30.csv"
    assert "binary content" in failed.message


@pytest.mark.postgres
@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_non_utf8_names_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    landing = tmp_path / "landing"
    _non_utf8_file(landing, _csv_bytes(2))
    engine = open_store(postgres_url)
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert summary.rows_loaded == 2
    assert _batches(engine)[0].file_name == "managers_\\xff\\xfe_2024-06-30.csv"


# --- JSON nested 100,000 deep -----------------------------------------------------------------


def _deep_files(landing: Path) -> None:
    folder = landing / "managers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "managers_2024-01-31.json").write_text("[" * DEEP + "]" * DEEP)
    record = '{"registerNo": "P1000001", "x": ' + "[" * DEEP + "]" * DEEP + "}"
    (folder / "managers_2024-02-29.json").write_text(f"[{record}]")
    (folder / "managers_2024-03-31.jsonl").write_text(record + "\n")
    (folder / "bundle_2024-04-30.json").write_text(
        '{"a": ' + '{"b": ' * DEEP + "1" + "}" * DEEP + "}"
    )


def test_json_nested_100000_deep_is_a_failed_batch_and_the_next_file_loads(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    _deep_files(landing)
    _good(landing)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    failed = [r for r in summary.results if r.status == "failed"]
    assert len(failed) == 4 and summary.files_loaded == 1 and summary.rows_loaded == 3
    assert {r.message for r in failed} == {"JSON nested deeper than 64 levels"}


def test_the_dry_run_reports_deep_json_in_one_line(settings: Settings, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _deep_files(landing)
    _good(landing)
    summary = run_landing_validation(None, settings, landing, today=CLOCK.today(), build_docs=False)
    assert summary.files_failed == 4 and summary.files_ok == 1
    failed = {r.message for r in summary.results if r.status == "failed"}
    assert failed == {"JSON nested deeper than 64 levels"}


# --- XLSX that would make the reader allocate without bound -----------------------------------


def _xlsx(rewrite: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(MANAGERS_CAMEL)
    for row in _rows(2):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            for where, new in (rewrite or {}).items():
                name, pattern = where.split("|", 1)  # "member|regular expression"
                if info.filename == name:
                    data = re.sub(pattern.encode(), new, data, count=1)
            z.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


_SHARED_STRINGS = (
    b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/'
    b'spreadsheetml/2006/main" count="4000000000" uniqueCount="4000000000"><si><t>registerNo'
    b"</t></si></sst>"
)


def _claims_4e9_shared_strings() -> bytes:
    return _xlsx(
        {
            "[Content_Types].xml|</Types>": b'<Override PartName="/xl/sharedStrings.xml" '
            b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            b'sharedStrings+xml"/></Types>',
            "xl/_rels/workbook.xml.rels|</Relationships>": b'<Relationship Id="rIdSst" '
            b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
            'xl/worksheets/sheet1.xml|<c r="A1" t="inlineStr"><is><t>registerNo</t></is></c>': (
                b'<c r="A1" t="s"><v>0</v></c>'
            ),
        },
        {"xl/sharedStrings.xml": _SHARED_STRINGS},
    )


def _cell_at_xfd1048576() -> bytes:
    return _xlsx(
        {
            'xl/worksheets/sheet1.xml|<dimension ref="[^"]*"': b'<dimension ref="A1:XFD1048576"',
            "xl/worksheets/sheet1.xml|</sheetData>": (
                b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
            ),
        }
    )


_CHILD = """
import datetime as dt, json, sys
from pathlib import Path
from watchtower.clock import FixedClock
from watchtower.ingest import run_ingest
from watchtower.store import open_store
engine = open_store(sys.argv[2])
s = run_ingest(engine, Path(sys.argv[1]), clock=FixedClock(dt.datetime(2024, 12, 1, 8)))
print(json.dumps([[r.path, r.status, r.message, r.rows_loaded] for r in s.results]))
"""


@pytest.mark.parametrize(
    ("poison", "says"),
    [
        (_claims_4e9_shared_strings, "declares 4000000000 shared strings"),
        (_cell_at_xfd1048576, "spans 1048576 rows x 16384 columns"),
    ],
)
def test_an_xlsx_that_would_abort_the_reader_is_a_failed_batch(
    tmp_path: Path, poison: object, says: str
) -> None:
    """In a child process, so that a reader that does abort (main: rc 134) fails this test
    rather than the test run."""
    landing = tmp_path / "landing"
    (landing / "managers").mkdir(parents=True)
    assert callable(poison)
    (landing / "managers" / "managers_2024-01-31.xlsx").write_bytes(poison())
    _good(landing)
    db = f"sqlite:///{tmp_path / 'wt.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(landing), db],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert [(Path(p).suffix, s) for p, s, _, _ in results] == [
        (".xlsx", "failed"),
        (".csv", "loaded"),
    ]
    assert says in results[0][2] and results[1][3] == 3


def test_a_zip_bomb_member_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "managers").mkdir(parents=True)
    bomb = _xlsx(extra={"xl/media/padding.bin": b"\0" * (64 * 1024 * 1024)})
    (landing / "managers" / "managers_2024-01-31.xlsx").write_bytes(bomb)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    [result] = run_ingest(engine, landing, clock=CLOCK).results
    assert result.status == "failed" and "compressed more than 200:1" in (result.message or "")


# --- any error, the next file goes on; re-runs skip it ----------------------------------------


def test_any_error_reading_a_file_is_a_failed_batch_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only ReadError: an unexpected error inside a reader (here a KeyError quoting a
    secret) or the parser is a failed batch named by its kind, never the content."""
    landing = tmp_path / "landing"
    poison = _good(landing, "2024-01-31")
    parse_poison = _good(landing, "2024-02-29")
    _good(landing, "2024-06-30")
    # the functions the ingest step calls (the step imports them from these modules), wrapped
    # where it looks them up (its own module)
    real_read, real_parse = shapes.read_parts, parse.parse_frame

    def read_parts(path: Path, data: bytes, **kw: Any) -> list[shapes.Part]:
        if path == poison:
            raise KeyError("db_password=hunter2")
        return real_read(path, data, **kw)

    def parse_frame(source: Source, raw: pd.DataFrame, **kw: Any) -> parse.ParsedFile:
        if kw.get("file_date") == dt.date(2024, 2, 29):
            raise ValueError("cell value: hunter2")
        return real_parse(source, raw, **kw)

    monkeypatch.setattr(ingest_steps, "read_parts", read_parts)
    monkeypatch.setattr(ingest_steps, "parse_frame", parse_frame)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert [r.status for r in summary.results] == ["failed", "failed", "loaded"]
    assert summary.results[0].message == "cannot be read (KeyError); the content is not quoted here"
    assert (
        summary.results[1].message == "cannot be read (ValueError); the content is not quoted here"
    )
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (6, 3, 3)
    assert all("hunter2" not in (b.message or "") for b in _batches(engine))
    assert parse_poison.exists()

    again = run_ingest(engine, landing, clock=CLOCK)  # the same, without a traceback
    assert [r.status for r in again.results] == ["skipped", "skipped", "skipped"]
    assert "readmit" in (again.results[0].message or "") and len(_batches(engine)) == 3

    monkeypatch.setattr(ingest_steps, "read_parts", real_read)
    monkeypatch.setattr(ingest_steps, "parse_frame", real_parse)
    first = _batches(engine)[0]
    [done] = run_readmit(engine, [first.id], clock=CLOCK)
    assert [r.status for r in done.results] == ["loaded"]


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux only")
def test_poison_files_first_then_good_files_every_run(tmp_path: Path) -> None:
    """Poison sorted first (earlier dates): a binary file under a non-UTF-8 name, JSON nested
    100,000 deep; the good files after them load, and a second run does the same."""
    landing = tmp_path / "landing"
    _non_utf8_file(landing, b"\x00\x01 not text")  # managers_\xff\xfe_2024-06-30.csv
    (landing / "managers" / "managers_2024-01-31.json").write_text("[" * DEEP + "]" * DEEP)
    for day in ("2024-07-31", "2024-08-31"):
        _good(landing, day)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    first = run_ingest(engine, landing, clock=CLOCK)
    assert [r.status for r in first.results] == ["failed", "failed", "loaded", "loaded"]
    second = run_ingest(engine, landing, clock=CLOCK)
    assert [r.status for r in second.results] == ["skipped"] * 4
    assert [b.status for b in _batches(engine)] == ["failed", "failed", "loaded", "loaded"]
    assert _snapshots(engine) == 6


# --- symlinks leading outside the landing folder ----------------------------------------------


def test_symlinks_leading_outside_the_landing_folder_are_refused_unread(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    secret = outside / "managers_2024-05-31.csv"
    write_csv(secret, MANAGERS_CAMEL, _rows(5, start=500), "utf-8")
    write_csv(outside / "funds" / "managers_2024-04-30.csv", MANAGERS_CAMEL, _rows(2), "utf-8")
    landing = tmp_path / "landing"
    _good(landing)
    (landing / "managers" / "managers_2024-05-31.csv").symlink_to(secret)
    (landing / "elsewhere").symlink_to(outside / "funds", target_is_directory=True)
    (landing / "managers" / "alias_2024-06-30.csv").symlink_to("managers_2024-06-30.csv")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    refused = [r for r in summary.results if r.status == "failed"]
    assert sorted(Path(r.path).name for r in refused) == ["elsewhere", "managers_2024-05-31.csv"]
    assert all(
        r.batch_id is None and "outside the landing folder" in (r.message or "") for r in refused
    )
    # the link inside the folder is read (the same content as its target: skipped)
    assert summary.files_loaded == 1 and summary.files_skipped == 1
    assert _snapshots(engine) == 3  # nothing of outside/ was read
    assert [b.status for b in _batches(engine)] == ["loaded"]


def test_a_file_swapped_for_an_outside_symlink_after_discovery_is_not_read(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside" / "secret.csv"
    write_csv(outside, MANAGERS_CAMEL, _rows(5, start=500), "utf-8")
    landing = tmp_path / "landing"
    path = _good(landing)
    [found] = scan(landing).files
    path.unlink()
    path.symlink_to(outside)  # between discovery and reading
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    [result] = ingest_file(engine, found, clock=CLOCK)
    assert result.status == "failed" and "outside the landing folder" in (result.message or "")
    assert _snapshots(engine) == 0 and _batches(engine) == []


# --- messages never quote content beyond header names, nor anything like a secret -------------


def test_a_secret_in_a_failed_file_reaches_neither_store_nor_cli_nor_json(
    settings: Settings, tmp_path: Path
) -> None:
    from watchtower.cli import app

    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "app.csv").write_text("db_password=hunter2\nhost=db.internal\n")
    (landing / "managers").mkdir()
    (landing / "managers" / "settings.csv").write_text("api_token: s3cr3t-Token-hunter2\nx\n")
    (landing / "notes.csv").write_text(
        "This is the first line of a private note that is not a header at all,b\n1,2\n"
    )
    _good(landing)
    env = {"WATCHTOWER_HOME": str(settings.home)}
    text = CliRunner().invoke(app, ["ingest", str(landing), "--quiet"], env=env)
    as_json = CliRunner().invoke(app, ["ingest", str(landing), "--json", "--quiet"], env=env)
    assert text.exit_code == 1  # the refused files say so
    assert "hunter2" not in text.output and "hunter2" not in as_json.output
    assert "private note" not in text.output
    engine = open_store(settings.db_url)
    messages = " ".join(b.message or "" for b in _batches(engine))
    assert "hunter2" not in messages and "[redacted]" in messages
    assert "private note" not in messages and "cannot tell the source" in messages


def test_header_names_stay_readable_and_secrets_do_not() -> None:
    assert safe_header("登记编号") == "登记编号" and safe_header("managerName") == "managerName"
    for secret in ("db_password=hunter2", "token: abc", "API_KEY", "x" * 41, "密码"):
        assert safe_header(secret) == "[redacted]"
    assert safe_message("a\nb\rc") == "a b c"
    assert safe_message("password = hunter2, then") == "[redacted], then"
    assert "sk_live_" not in safe_message("key sk_live_4eC39HqLyjWDarjtT1zdp7dc0123456789")
    long_check = "expect_column_values_to_be_valid_register_no"  # a check's name stays
    assert safe_message(f"worst: {long_check}") == f"worst: {long_check}"
