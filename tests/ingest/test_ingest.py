"""Ingestion end to end: every format and encoding, nothing lost, one transaction per file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from watchtower.clock import FixedClock
from watchtower.ingest import run_ingest
from watchtower.ingest import steps as ingest_steps
from watchtower.store import open_store
from watchtower.store.schema import (
    batches,
    fund_snapshots,
    manager_snapshots,
    quarantine,
    reports,
)

CLOCK = FixedClock(dt.datetime(2024, 12, 1, 8, 0))

MANAGERS_CAMEL = [
    "registerNo",
    "managerName",
    "uscc",
    "establishDate",
    "registerDate",
    "subscribedCapital",
    "paidInCapital",
    "employeeCount",
    "inBlacklist",
]
MANAGERS_ZH = [
    "登记编号",
    "私募基金管理人名称",
    "统一社会信用代码",
    "成立时间",
    "登记时间",
    "注册资本(万元)",
    "实缴资本(万元)",
    "员工人数",
    "是否列入黑名单",
]


def _rows(n: int, start: int = 0) -> list[list[str]]:
    return [
        [
            f"P{1000000 + start + i:07d}",
            f"测试管理人{start + i}号",
            "",
            "2015-01-01",
            "2016/02/03",
            "1000",
            "250",
            "12",
            "否",
        ]
        for i in range(n)
    ]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


def landing_by_someone_else(root: Path) -> Path:
    """A landing folder in the contract, written without Watchtower's own generator."""
    write_csv(root / "managers" / "managers_2024-03-31.csv", MANAGERS_ZH, _rows(3), "gb18030")
    write_csv(root / "managers" / "managers_2024-06-30.csv", MANAGERS_CAMEL, _rows(3), "utf-8-sig")
    page = {
        "content": [
            dict(zip(MANAGERS_CAMEL, r, strict=True)) | {"establishDate": 1420041600000}
            for r in _rows(3)
        ],
        "totalPages": 1,
        "number": 0,
        "size": 3,
    }
    (root / "managers" / "managers_2024-09-30.json").write_text(
        json.dumps(page, ensure_ascii=False)
    )
    xlsx_rows: list[list[object]] = [
        [r[0], r[1], None, dt.datetime(2015, 1, 1), "2016年02月03日", 1000, 250, 12, "否"]
        for r in _rows(3)
    ]
    write_xlsx(root / "managers" / "managers_2024-12-31.xlsx", MANAGERS_ZH, xlsx_rows)
    funds = root / "funds_2024-06-30.jsonl"  # flat in the folder: the prefix names the source
    funds.write_text(
        "\n".join(
            json.dumps(
                {
                    "fundNo": f"SX{i:04d}",
                    "fundName": f"测试基金{i}",
                    "registerNo": "P1000000",
                    "workingState": "正在运作",
                    "lastQuarterUpdate": "是",
                },
                ensure_ascii=False,
            )
            for i in range(4)
        )
        + "\n"
    )
    write_csv(
        root / "reports" / "reports_2024-06.csv",
        [
            "基金编号",
            "报告类型",
            "报告期",
            "应报日期",
            "实际报送日期",
            "单位净值",
            "基金资产净值(元)",
        ],
        [
            ["SX0001", "月报", "2024-05", "2024-06-07", "2024/06/06", "1.0321", "12,345,678"],
            ["SX0002", "季报", "2024Q1", "2024-04-15", "", "", ""],
        ],
        "gb18030",
    )
    write_csv(
        root / "events" / "events_2024.csv",
        ["registerNo", "eventDate", "eventType", "severity", "description"],
        [["P1000001", "2024-05-01", "涉诉", "3", "合同纠纷"]],
        "utf-8",
    )
    write_csv(
        root / "incidents" / "incidents.csv",
        ["登记编号", "事件日期", "事件类型"],
        [["P1000002", "2024-11-01", "失联"]],
        "utf-8",
    )
    return root


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_every_format_encoding_and_header_language(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing_by_someone_else(tmp_path / "landing"), clock=CLOCK)
    assert summary.files_failed == 0, [r.message for r in summary.results]
    assert summary.files_loaded == 8
    assert summary.rows_loaded == 12 + 4 + 2 + 1 + 1 and summary.rows_quarantined == 0
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                manager_snapshots.c.known_from,
                manager_snapshots.c.establish_date,
                manager_snapshots.c.register_date,
                manager_snapshots.c.paid_in_capital,
                manager_snapshots.c.in_blacklist,
            )
            .where(manager_snapshots.c.register_no == "P1000001")
            .order_by(manager_snapshots.c.known_from)
        ).all()
        report = conn.execute(
            sa.select(reports.c.aum, reports.c.submitted_date, reports.c.report_type).where(
                reports.c.fund_no == "SX0001"
            )
        ).one()
    assert [r.known_from for r in rows] == [
        dt.date(2024, 3, 31),
        dt.date(2024, 6, 30),
        dt.date(2024, 9, 30),
        dt.date(2024, 12, 31),
    ]
    assert {r.establish_date for r in rows} == {dt.date(2015, 1, 1)}
    assert {r.register_date for r in rows} == {dt.date(2016, 2, 3)}
    assert {r.paid_in_capital for r in rows} == {250.0} and {r.in_blacklist for r in rows} == {
        False
    }
    assert report.aum == pytest.approx(1234.5678) and report.report_type == "monthly"
    assert report.submitted_date == dt.date(2024, 6, 6)


def test_reingest_is_a_noop_and_history_is_kept(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    landing = landing_by_someone_else(tmp_path / "landing")
    first = run_ingest(engine, landing, clock=CLOCK)
    before = _count(engine, manager_snapshots)
    again = run_ingest(engine, landing, clock=CLOCK)
    assert again.files_skipped == first.files_loaded and again.rows_loaded == 0
    assert _count(engine, manager_snapshots) == before
    # A re-delivery of the same snapshot in other bytes is a new batch; a row that says the
    # same is accounted for and not stored again, a corrected one is, and the old rows stay.
    same, corrected = _rows(2)
    corrected[8] = "是"  # now blacklisted
    write_csv(
        landing / "managers" / "managers_2024-03-31-v2.csv",
        MANAGERS_CAMEL,
        [same, corrected],
        "utf-8",
    )
    third = run_ingest(engine, landing, clock=CLOCK)
    assert (third.files_loaded, third.rows_loaded) == (1, 2)
    assert (third.rows_unchanged, third.rows_corrected) == (1, 1)
    assert _count(engine, manager_snapshots) == before + 1


def test_bad_rows_are_quarantined_and_every_row_is_accounted_for(tmp_path: Path) -> None:
    rows = _rows(5)
    rows[1][0] = ""  # missing key
    rows[2][3] = "2015-02-30"  # impossible date
    rows[3][7] = "twelve"  # wrong type
    rows[4][8] = "maybe"  # not a boolean
    landing = tmp_path / "landing"
    write_csv(
        landing / "managers" / "managers_2024-06-30.csv",
        MANAGERS_CAMEL + ["备注"],
        [r + ["<script>x</script>"] for r in rows],
        "utf-8",
    )
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    (result,) = summary.results
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 1, 4)
    with engine.connect() as conn:
        q = conn.execute(sa.select(quarantine).order_by(quarantine.c.row_number)).all()
        extra = conn.execute(sa.select(manager_snapshots.c.extra)).scalar_one()
    assert [(r.row_number, r.field) for r in q] == [
        (2, "registerNo"),
        (3, "establishDate"),
        (4, "employeeCount"),
        (5, "inBlacklist"),
    ]
    assert "2015-02-30" in q[1].reason and q[1].raw["establishDate"] == "2015-02-30"
    assert extra == {"备注": "<script>x</script>"}  # unknown columns kept, never an error


def test_row_accounting_invariant_holds_for_every_file(tmp_path: Path) -> None:
    landing = landing_by_someone_else(tmp_path / "landing")
    bad = _rows(4, start=50)
    bad[0][4] = "not a date"
    write_csv(landing / "managers" / "managers_2024-07-31.csv", MANAGERS_CAMEL, bad, "utf-8")
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    for r in summary.results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined, r
    with engine.connect() as conn:
        for b in conn.execute(sa.select(batches)).all():
            assert b.rows_read == b.rows_loaded + b.rows_quarantined
            loaded = conn.execute(
                sa.text(
                    "select (select count(*) from manager_snapshots where batch_id=:b) + "
                    "(select count(*) from fund_snapshots where batch_id=:b) + "
                    "(select count(*) from reports where batch_id=:b) + "
                    "(select count(*) from events where batch_id=:b) + "
                    "(select count(*) from incidents where batch_id=:b)"
                ),
                {"b": b.id},
            ).scalar_one()
            quarantined = conn.execute(
                sa.select(sa.func.count())
                .select_from(quarantine)
                .where(quarantine.c.batch_id == b.id)
            ).scalar_one()
            assert (loaded, quarantined) == (b.rows_loaded, b.rows_quarantined)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("managers_2024-06-30.json", b'[{"registerNo": "P1000001", "managerN', "invalid JSON"),
        ("managers_2024-06-30.xlsx", b"this is not a spreadsheet", "not a readable XLSX"),
        ("managers_2024-06-30.csv", b"", "empty"),
        ("managers_2024-06-30.csv", b"\x00\x01\x02PK\x03\x04binary", "binary content"),
        ("managers_2024-06-30.pdf", b"%PDF-1.4", "unsupported file type"),
        ("unknown_2024.csv", b"a,b\n1,2\n", "cannot tell the source"),
    ],
)
def test_unreadable_files_are_failed_batches_with_a_clear_message(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / name).write_bytes(content)
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert summary.files_failed == 1
    assert message in (summary.results[0].message or "")
    with engine.connect() as conn:
        b = conn.execute(sa.select(batches)).one()
    assert b.status == "failed" and message in b.message and b.loaded_hash is None


def test_a_file_without_a_required_column_is_rejected_and_its_rows_counted(
    tmp_path: Path,
) -> None:
    """A structural fault rejects the batch; its rows still appear in the accounting."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "managers_2024-06-30.csv").write_bytes("名称\n甲\n乙\n".encode())
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert (summary.files_rejected, summary.files_failed) == (1, 0)
    assert "no column for required field" in (summary.results[0].message or "")
    assert (summary.rows_read, summary.rows_rejected) == (2, 2)
    assert summary.rows_read == (
        summary.rows_loaded + summary.rows_quarantined + summary.rows_rejected
    )
    with engine.connect() as conn:
        b = conn.execute(sa.select(batches)).one()
    assert (b.status, b.rows_read, b.rows_rejected, b.loaded_hash) == ("rejected", 2, 2, None)


def test_a_crash_mid_file_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    write_csv(
        landing / "managers" / "managers_2024-06-30.csv", MANAGERS_CAMEL, _rows(12000), "utf-8"
    )
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    real_insert = ingest_steps.insert_rows
    calls = {"n": 0}

    def crash_after_first_chunk(
        conn: sa.Connection, table: sa.Table, records: list[dict[str, Any]]
    ) -> None:
        calls["n"] += 1
        real_insert(conn, table, records[:5000])  # part of the file reaches the database...
        raise RuntimeError("disk full")  # ...then the process fails

    monkeypatch.setattr(ingest_steps, "insert_rows", crash_after_first_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        run_ingest(engine, landing, clock=CLOCK)
    assert calls["n"] == 1
    assert _count(engine, manager_snapshots) == 0 and _count(engine, batches) == 0
    monkeypatch.setattr(ingest_steps, "insert_rows", real_insert)
    summary = run_ingest(engine, landing, clock=CLOCK)  # the retry loads it whole
    assert summary.rows_loaded == 12000 and _count(engine, manager_snapshots) == 12000


@pytest.mark.postgres
def test_the_same_ingestion_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    engine = open_store(postgres_url)
    landing = landing_by_someone_else(tmp_path / "landing")
    summary = run_ingest(engine, landing, clock=CLOCK)
    assert summary.files_failed == 0 and summary.rows_loaded == 20
    again = run_ingest(engine, landing, clock=CLOCK)
    assert again.files_skipped == 8 and _count(engine, fund_snapshots) == 4
    with engine.connect() as conn:
        d = conn.execute(sa.select(manager_snapshots.c.establish_date).limit(1)).scalar_one()
    assert d == dt.date(2015, 1, 1)
