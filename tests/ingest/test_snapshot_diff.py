"""Change events from consecutive snapshots: the real 陕西 query over six days; known answers."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.hostile import CONTROLS
from watchtower.ingest.snapshot_diff import (
    EVENT_COLUMNS,
    EVENT_TYPE_ZH,
    EVENT_TYPES,
    snapshot_events,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real_amac"
FEED = "pof_manager_query_shaanxi_office"
DAYS = ("2026-05-07", "2026-05-13", "2026-05-15", "2026-05-18", "2026-05-19", "2026-05-20")
COLUMNS = (
    "manager_name",
    "artificial_person_name",
    "register_address",
    "office_address",
    "register_province",
    "office_province",
    "reg_adr_agg",
    "office_adr_agg",
    "member_type",
    "org_form",
    "primary_invest_type",
    "fund_count",
    "has_special_tips",
    "has_credit_tips",
)
OLD_OFFICE = "陕西省西安市雁塔区曲江新区万众国际A座1501-3"
NEW_OFFICE = "陕西省西安市雁塔区曲江新区曲江环球中心101609室"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _real(days: tuple[str, ...] = DAYS) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for day in days:
        path = FIXTURES / day / f"{FEED}.json"
        for raw in json.loads(path.read_text(encoding="utf-8"))["content"]:
            row = {_snake(k): v for k, v in raw.items()}
            record = {c: row.get(c) for c in COLUMNS}
            record.update(
                register_no=row["register_no"],
                snapshot_date=dt.date.fromisoformat(day),
                known_from=dt.date.fromisoformat(day),
                feed=FEED,
            )
            rows.append(record)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def real_events() -> pd.DataFrame:
    return snapshot_events(_real())


def _d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _by_key(events: pd.DataFrame) -> dict[tuple[str, str, pd.Timestamp, str], str]:
    return {
        (r.register_no, r.event_type, r.event_date, r.field): r.natural_key
        for r in events.itertuples()
    }


# --------------------------------------------------------------------------- real data


def test_real_snapshots_give_exactly_the_real_changes(real_events: pd.DataFrame) -> None:
    assert tuple(real_events.columns) == EVENT_COLUMNS
    got = {
        (r.register_no, r.event_type, r.event_date, r.field, r.old_value, r.new_value)
        for r in real_events.itertuples()
    }
    assert got == {
        ("P1028974", "address_change", _d("2026-05-20"), "office_address", OLD_OFFICE, NEW_OFFICE),
        ("P1061088", "fund_count_drop", _d("2026-05-13"), "fund_count", "12", "11"),
        ("P1005988", "fund_count_drop", _d("2026-05-13"), "fund_count", "19", "18"),
        ("P1072146", "fund_count_drop", _d("2026-05-13"), "fund_count", "3", "2"),
        ("P1067542", "fund_count_drop", _d("2026-05-20"), "fund_count", "24", "23"),
        ("P1064611", "fund_count_drop", _d("2026-05-20"), "fund_count", "2", "1"),
    }
    assert len(real_events) == 6
    assert "P1020814" not in set(real_events["register_no"])  # 30 -> 31 is not an event
    assert "left_list" not in set(real_events["event_type"])  # all 84 present every day
    assert set(real_events["source"]) == {"snapshot_diff"}
    assert (real_events["reported_date"] == real_events["event_date"]).all()


def test_real_address_change_description(real_events: pd.DataFrame) -> None:
    row = real_events[real_events["event_type"] == "address_change"].iloc[0]
    assert row["description"] == (
        f"办公地址变更：{OLD_OFFICE} → {NEW_OFFICE} / Office address changed: "
        f"{OLD_OFFICE} → {NEW_OFFICE}"
    )
    assert 1 <= row["severity"] <= 3


def test_real_natural_keys_are_stable_and_overlap_safe(real_events: pd.DataFrame) -> None:
    again = snapshot_events(_real())
    assert list(again["natural_key"]) == list(real_events["natural_key"])
    assert real_events["natural_key"].is_unique
    assert all(re.fullmatch(r"[0-9a-f]{64}", k) for k in real_events["natural_key"])

    early = _by_key(snapshot_events(_real(DAYS[:4])))  # 05-07 .. 05-18
    late = _by_key(snapshot_events(_real(DAYS[2:])))  # 05-15 .. 05-20
    full = _by_key(real_events)
    assert early and late
    for key, natural in {**early, **late}.items():
        assert full[key] == natural
    # the union of the overlapping runs is exactly the full run: nothing counts twice
    assert set(early.values()) | set(late.values()) == set(full.values())


def test_overlapping_windows_agree_on_the_shared_transition() -> None:
    # the real data has no change on 05-15 -> 05-18, the one transition both windows hold:
    # give P1020814 (30 -> 31 on 05-13) a drop to 29 on 05-18, back to 31 on 05-19
    def window(days: tuple[str, ...]) -> pd.DataFrame:
        frame = _real(days)
        hit = (frame["register_no"] == "P1020814") & (
            frame["snapshot_date"] == dt.date(2026, 5, 18)
        )
        frame.loc[hit, "fund_count"] = 29
        return frame

    early = _by_key(snapshot_events(window(DAYS[:4])))
    late = _by_key(snapshot_events(window(DAYS[2:])))
    shared = ("P1020814", "fund_count_drop", _d("2026-05-18"), "fund_count")
    assert shared in early and shared in late
    assert early[shared] == late[shared]
    assert set(early) & set(late) == {shared}


def test_real_overlap_shares_the_transition_keys() -> None:
    # days 3-6 of the real data plus a copy of day 4 re-delivered: same keys, no new events
    late = _real(DAYS[2:])
    redelivered = pd.concat([late, _real((DAYS[3],))], ignore_index=True)
    assert list(snapshot_events(redelivered)["natural_key"]) == list(
        snapshot_events(late)["natural_key"]
    )


# --------------------------------------------------------------------------- known answers


def _m(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = []
    for row in rows:
        full = {"register_no": "P1", "feed": "q", **row}
        full.setdefault("known_from", full["snapshot_date"])
        out.append(full)
    return pd.DataFrame(out)


def _one(events: pd.DataFrame) -> pd.Series:
    assert len(events) == 1, events
    return events.iloc[0]


def test_event_type_names() -> None:
    assert set(EVENT_TYPE_ZH) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))


@pytest.mark.parametrize(
    ("column", "old", "new", "event_type"),
    [
        ("office_address", "西安市A路1号", "西安市B路2号", "address_change"),
        ("register_address", "北京市C路", "上海市D路", "address_change"),
        ("artificial_person_name", "张三", "李四", "legal_rep_change"),
        ("manager_name", "甲私募基金管理有限公司", "乙私募基金管理有限公司", "name_change"),
        ("member_type", "普通会员", "非会员机构", "member_type_change"),
    ],
)
def test_text_field_changes(column: str, old: str, new: str, event_type: str) -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", column: old},
            {"snapshot_date": "2026-01-02", column: old},
            {"snapshot_date": "2026-01-03", column: new},
        ]
    )
    row = _one(snapshot_events(frame))
    assert (row["event_type"], row["field"], row["old_value"], row["new_value"]) == (
        event_type,
        column,
        old,
        new,
    )
    assert row["event_date"] == _d("2026-01-03")
    assert old in row["description"] and new in row["description"]
    assert " / " in row["description"]


@pytest.mark.parametrize(
    ("column", "region"), [("office_adr_agg", "办公"), ("reg_adr_agg", "注册")]
)
def test_region_change_is_address_and_jurisdiction(column: str, region: str) -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", column: "北京市"},
            {"snapshot_date": "2026-01-02", column: "陕西省"},
        ]
    )
    events = snapshot_events(frame)
    assert sorted(events["event_type"]) == ["address_change", "jurisdiction_change"]
    assert set(events["field"]) == {column}
    assert set(events["old_value"]) == {"北京市"} and set(events["new_value"]) == {"陕西省"}
    jur = events[events["event_type"] == "jurisdiction_change"].iloc[0]
    assert jur["description"].startswith(f"{region}地辖区变更：北京市 → 陕西省")
    assert events["natural_key"].is_unique


def test_fund_count_drop_not_rise() -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "fund_count": 5},
            {"snapshot_date": "2026-01-02", "fund_count": 7},
            {"snapshot_date": "2026-01-03", "fund_count": 4.0},
        ]
    )
    row = _one(snapshot_events(frame))
    assert (row["event_type"], row["old_value"], row["new_value"]) == ("fund_count_drop", "7", "4")
    assert row["event_date"] == _d("2026-01-03")
    assert row["description"] == "在管基金数量减少：7 → 4 / Fund count fell: 7 → 4"


@pytest.mark.parametrize(
    ("column", "added", "cleared"),
    [
        ("has_special_tips", "special_tips_added", "special_tips_cleared"),
        ("has_credit_tips", "credit_tips_added", "credit_tips_cleared"),
    ],
)
def test_tips_added_and_cleared(column: str, added: str, cleared: str) -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", column: False},
            {"snapshot_date": "2026-01-02", column: True},
            {"snapshot_date": "2026-01-03", column: "true"},
            {"snapshot_date": "2026-01-04", column: "false"},
        ]
    )
    events = snapshot_events(frame)
    assert list(zip(events["event_type"], events["event_date"], strict=True)) == [
        (added, _d("2026-01-02")),
        (cleared, _d("2026-01-04")),
    ]
    assert list(events["old_value"]) == ["false", "true"]
    assert list(events["new_value"]) == ["true", "false"]
    assert events.iloc[0]["severity"] == 3


def test_unknown_is_never_a_change() -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "manager_name": None, "fund_count": None},
            {"snapshot_date": "2026-01-02", "manager_name": "甲公司", "fund_count": 5},
            {"snapshot_date": "2026-01-03", "manager_name": pd.NA, "fund_count": float("nan")},
            {"snapshot_date": "2026-01-04", "manager_name": "  甲公司 ", "fund_count": 5},
            {"snapshot_date": "2026-01-05", "manager_name": "", "has_special_tips": None},
        ]
    )
    assert snapshot_events(frame).empty


def test_change_across_an_unknown_is_dated_on_the_new_value() -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "manager_name": "甲公司", "known_from": "2026-01-01"},
            {"snapshot_date": "2026-01-02", "manager_name": None, "known_from": "2026-01-02"},
            {"snapshot_date": "2026-01-03", "manager_name": "乙公司", "known_from": "2026-01-05"},
        ]
    )
    row = _one(snapshot_events(frame))
    assert (row["old_value"], row["new_value"]) == ("甲公司", "乙公司")
    assert row["event_date"] == _d("2026-01-03")
    assert row["reported_date"] == _d("2026-01-05")


def test_cosmetic_differences_are_not_events_and_original_text_is_kept() -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "office_address": "西安市（A座）1501"},
            {"snapshot_date": "2026-01-02", "office_address": " 西安市(A座)１５０１ "},
            {"snapshot_date": "2026-01-03", "office_address": "西安市  (B座) 1501"},
        ]
    )
    row = _one(snapshot_events(frame))
    assert row["old_value"] == " 西安市(A座)１５０１ "
    assert row["new_value"] == "西安市  (B座) 1501"


def test_same_day_duplicates_take_the_last_known() -> None:
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "manager_name": "甲", "known_from": "2026-01-01"},
            # the later delivery of 01-02 wins whatever the row order
            {"snapshot_date": "2026-01-02", "manager_name": "乙", "known_from": "2026-01-04"},
            {"snapshot_date": "2026-01-02", "manager_name": "丙", "known_from": "2026-01-02"},
            {"snapshot_date": "2026-01-03", "manager_name": "乙", "known_from": "2026-01-03"},
            {"snapshot_date": "2026-01-03", "manager_name": "乙", "known_from": "2026-01-03"},
        ]
    )
    row = _one(snapshot_events(frame))
    assert (row["old_value"], row["new_value"]) == ("甲", "乙")
    assert row["event_date"] == _d("2026-01-02")
    assert row["reported_date"] == _d("2026-01-04")


def test_reported_date_is_never_before_either_snapshot_was_known() -> None:
    # the older snapshot was back-filled later than the newer one was known
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "fund_count": 3, "known_from": "2026-02-01"},
            {"snapshot_date": "2026-01-02", "fund_count": 2, "known_from": "2026-01-02"},
        ]
    )
    assert _one(snapshot_events(frame))["reported_date"] == _d("2026-02-01")


def test_python_dates_and_datetime64_agree() -> None:
    rows = [
        {"snapshot_date": dt.date(2026, 1, 1), "fund_count": 3},
        {"snapshot_date": dt.date(2026, 1, 2), "fund_count": 2},
    ]
    as_dates = _m(rows)
    as_dt64 = as_dates.astype({"snapshot_date": "datetime64[s]", "known_from": "datetime64[s]"})
    pd.testing.assert_frame_equal(snapshot_events(as_dates), snapshot_events(as_dt64))


def test_left_list_only_when_the_feed_has_a_later_snapshot() -> None:
    frame = pd.DataFrame(
        [
            {"register_no": r, "snapshot_date": d, "known_from": k, "feed": "q"}
            for r, d, k in [
                ("P1", "2026-01-01", "2026-01-01"),
                ("P2", "2026-01-01", "2026-01-01"),
                ("P1", "2026-01-02", "2026-01-03"),
                ("P1", "2026-01-05", "2026-01-05"),
            ]
        ]
    )
    row = _one(snapshot_events(frame))
    assert (row["register_no"], row["event_type"]) == ("P2", "left_list")
    assert row["event_date"] == _d("2026-01-02")
    assert row["reported_date"] == _d("2026-01-03")  # when that snapshot became known
    assert (row["field"], row["old_value"], row["new_value"]) == ("feed", "q", None)
    assert "q" in row["description"] and "2026-01-02" in row["description"]

    # P1's last sighting (01-05) decides nothing until the feed has a later snapshot ...
    seen = {"q": [dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 5)]}
    assert list(snapshot_events(frame, feeds_seen=seen)["register_no"]) == ["P2"]
    # ... which feeds_seen may tell even when that snapshot has no row at all
    seen["q"].append(dt.date(2026, 1, 9))
    events = snapshot_events(frame, feeds_seen=seen)
    last = events[events["register_no"] == "P1"]
    assert list(last["event_date"]) == [_d("2026-01-09")]
    assert list(last["reported_date"]) == [_d("2026-01-09")]


def test_left_list_is_decided_within_one_feed() -> None:
    frame = pd.DataFrame(
        [
            {"register_no": r, "snapshot_date": d, "known_from": d, "feed": f}
            for r, d, f in [
                ("P1", "2026-01-01", "a"),
                ("P2", "2026-01-01", "a"),
                ("P2", "2026-01-02", "a"),
                ("P1", "2026-01-02", "b"),  # P1 moved to feed b: it still left feed a
                ("P3", "2026-01-01", "b"),
            ]
        ]
    )
    events = snapshot_events(frame)
    got = set(zip(events["register_no"], events["old_value"], events["event_date"], strict=True))
    assert got == {("P1", "a", _d("2026-01-02")), ("P3", "b", _d("2026-01-02"))}


def test_fund_liquidation() -> None:
    managers = _m([{"snapshot_date": "2026-01-01"}])
    funds = pd.DataFrame(
        [
            {"fund_no": f, "register_no": "P9", "snapshot_date": d, "working_state": s}
            for f, d, s in [
                ("SA001", "2026-01-01", "正在运作"),
                ("SA001", "2026-01-02", "提前清算"),
                ("SA001", "2026-01-03", "正常清算"),  # liquidation -> liquidation: nothing
                ("SB002", "2026-01-01", None),
                ("SB002", "2026-01-02", "正常清算"),  # unknown -> liquidation: nothing
                ("SC003", "2026-01-01", "正在运作"),
                ("SC003", "2026-01-02", "正在运作"),
                ("SD004", "2026-01-01", "正在运作"),
                ("SD004", "2026-01-02", "提前清算"),  # a second fund on the same day
            ]
        ]
    ).assign(known_from=lambda f: f["snapshot_date"])
    events = snapshot_events(managers, funds=funds)
    assert list(events["event_type"]) == ["fund_liquidation", "fund_liquidation"]
    assert set(events["register_no"]) == {"P9"}
    assert set(events["field"]) == {"working_state"}
    assert list(events["old_value"]) == ["正在运作", "正在运作"]
    assert list(events["new_value"]) == ["提前清算", "提前清算"]
    assert set(events["event_date"]) == {_d("2026-01-02")}
    descriptions = " ".join(events["description"])
    assert "SA001" in descriptions and "SD004" in descriptions
    assert events["natural_key"].is_unique  # two funds, two events


def test_hostile_name_is_escaped_in_the_description() -> None:
    hostile = CONTROLS
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "manager_name": "正常公司"},
            {"snapshot_date": "2026-01-02", "manager_name": hostile},
        ]
    )
    row = _one(snapshot_events(frame))
    assert row["new_value"] == hostile  # the original is kept
    description = row["description"]
    assert not any(ch in description for ch in "\n\r\x1b\u202e")
    assert "恶意 公司 [31m红色" in description
    assert description.startswith("管理人名称变更：正常公司 → 恶意 公司 [31m红色 / ")


def test_long_values_are_capped_in_the_description() -> None:
    long_old, long_new = "甲" * 500, "乙" * 500
    frame = _m(
        [
            {"snapshot_date": "2026-01-01", "office_address": long_old},
            {"snapshot_date": "2026-01-02", "office_address": long_new},
        ]
    )
    row = _one(snapshot_events(frame))
    assert row["new_value"] == long_new
    assert "甲" * 200 not in row["description"] and "甲" * 199 in row["description"]
    assert len(row["description"]) < 2 * (200 + 200) + 60


def test_no_events_gives_the_columns() -> None:
    events = snapshot_events(_m([{"snapshot_date": "2026-01-01", "manager_name": "甲"}]))
    assert events.empty and tuple(events.columns) == EVENT_COLUMNS


def test_missing_required_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="feed"):
        snapshot_events(pd.DataFrame({"register_no": ["P1"], "snapshot_date": ["2026-01-01"]}))
