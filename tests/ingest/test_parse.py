"""Parsing of the contract's value styles: dates, money units, booleans, periods, headers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from watchtower.ingest.discover import date_of, source_of
from watchtower.ingest.parse import (
    MissingColumnError,
    map_headers,
    parse_bools,
    parse_dates,
    parse_frame,
    parse_period,
)


def _dates(values: list[object]) -> tuple[list[dt.date | None], list[bool]]:
    out, bad = parse_dates(pd.Series(values, dtype=object))
    return [None if pd.isna(v) else v.date() for v in out], list(bad)


def test_every_date_style_of_the_contract() -> None:
    values, bad = _dates(
        [
            "2024-06-30",
            "2024/6/3",
            "2024年06月30日",
            "1420041600000",
            "20240630",
            "２０２４-０１-０２",
            "2024-06-30 00:00:00",
            None,
            "",
        ]
    )
    assert values == [
        dt.date(2024, 6, 30),
        dt.date(2024, 6, 3),
        dt.date(2024, 6, 30),
        dt.date(2015, 1, 1),  # AMAC epoch ms: midnight in Beijing, 2014-12-31T16:00Z
        dt.date(2024, 6, 30),
        dt.date(2024, 1, 2),
        dt.date(2024, 6, 30),
        None,
        None,
    ]
    assert not any(bad)


@pytest.mark.parametrize("text", ["2024-13-01", "2024-02-30", "yesterday", "30/06/2024", "12345"])
def test_unparseable_dates_are_flagged_not_guessed(text: str) -> None:
    values, bad = _dates([text])
    assert values == [None] and bad == [True]


def test_booleans() -> None:
    out, bad = parse_bools(
        pd.Series(["true", "False", "是", "否", "1", "0", "Y", "n", "maybe", None])
    )
    assert list(out[:8]) == [True, False, True, False, True, False, True, False]
    assert list(bad) == [False] * 8 + [True, False]


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("2024-09", "2024-09"),
        ("2024-9", "2024-09"),
        ("2024年9月", "2024-09"),
        ("2024Q3", "2024Q3"),
        ("2024 q3", "2024Q3"),
        ("2024年第三季度", "2024Q3"),
        ("2024", "2024"),
        ("2024年度", "2024"),
        ("2024-13", None),
        ("Q3", None),
    ],
)
def test_periods(text: str, period: str | None) -> None:
    assert parse_period(text) == period


def test_headers_in_both_languages_with_units() -> None:
    matched, unknown = map_headers(
        "managers",
        ["登记编号", "managerName", "注册资本(元)", "实缴资本（万元）", "fundScale", "备注"],
    )
    by_name = {f.name: factor for f, factor in matched.values()}
    assert by_name == {
        "registerNo": 1.0,
        "managerName": 1.0,
        "subscribedCapital": 1e-4,
        "paidInCapital": 1.0,
        "fundScale": 1.0,
    }
    assert unknown == ["备注"]


def test_money_in_yuan_is_converted_to_wan() -> None:
    raw = pd.DataFrame(
        {"登记编号": ["P1000001"], "私募基金管理人名称": ["甲"], "注册资本(元)": ["10,000,000"]},
        dtype=object,
    )
    parsed = parse_frame("managers", raw, file_date=None, ingest_date=dt.date(2024, 1, 1))
    assert parsed.frame["subscribed_capital"].iloc[0] == pytest.approx(1000.0)


def test_missing_required_column_is_a_file_level_error() -> None:
    raw = pd.DataFrame({"managerName": ["甲"]}, dtype=object)
    with pytest.raises(MissingColumnError, match=r"registerNo \(登记编号\)"):
        parse_frame("managers", raw, file_date=None, ingest_date=dt.date(2024, 1, 1))


def test_snapshot_date_falls_back_to_file_then_ingest_date() -> None:
    raw = pd.DataFrame(
        {
            "registerNo": ["P1000001", "P1000002"],
            "managerName": ["甲", "乙"],
            "snapshotDate": ["2024-03-31", None],
        },
        dtype=object,
    )
    parsed = parse_frame(
        "managers", raw, file_date=dt.date(2024, 6, 30), ingest_date=dt.date(2024, 7, 9)
    )
    assert [d.date() for d in parsed.frame["known_from"]] == [
        dt.date(2024, 3, 31),
        dt.date(2024, 6, 30),
    ]
    parsed = parse_frame("managers", raw, file_date=None, ingest_date=dt.date(2024, 7, 9))
    assert parsed.frame["known_from"].iloc[1].date() == dt.date(2024, 7, 9)


def test_report_known_from_submission_and_event_from_reported_date() -> None:
    reports = pd.DataFrame(
        {
            "fundNo": ["SX0001", "SX0001"],
            "reportType": ["月报", "quarterly"],
            "period": ["2024-05", "2024Q1"],
            "submittedDate": ["2024-06-07", None],
        },
        dtype=object,
    )
    parsed = parse_frame(
        "reports", reports, file_date=dt.date(2024, 6, 30), ingest_date=dt.date(2024, 7, 1)
    )
    assert list(parsed.frame["report_type"]) == ["monthly", "quarterly"]
    assert [d.date() for d in parsed.frame["known_from"]] == [
        dt.date(2024, 6, 7),
        dt.date(2024, 6, 30),
    ]
    events = pd.DataFrame(
        {"uscc": ["91350100M000100Y43"], "eventDate": ["2024-05-01"], "eventType": ["涉诉"]},
        dtype=object,
    )
    parsed = parse_frame("events", events, file_date=None, ingest_date=dt.date(2024, 7, 1))
    assert parsed.frame["event_type"].iloc[0] == "litigation"
    assert parsed.frame["known_from"].iloc[0].date() == dt.date(2024, 5, 1)


def test_source_and_date_from_folder_or_name(tmp_path: Path) -> None:
    assert source_of(tmp_path / "funds" / "x.csv", tmp_path) == "funds"
    assert source_of(tmp_path / "managers_2024-06-30.json", tmp_path) == "managers"
    assert source_of(tmp_path / "whatever.csv", tmp_path) is None
    assert date_of("managers_2024-06-30.json") == dt.date(2024, 6, 30)
    assert date_of("reports_2024-07.csv") == dt.date(2024, 7, 31)
    assert date_of("funds_2024Q2.xlsx") == dt.date(2024, 6, 30)
    assert date_of("events.jsonl") is None
