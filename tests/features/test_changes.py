"""Deterioration features on a hand-made history with known answers, as of D = 2024-07-01.

Reference days R (the month end on or before D - k months): 3 months 2024-03-31, 6 months
2023-12-31, 12 months 2023-06-30. C1 shrinks (staff 12 -> 3, paid-in 80% -> 20%, reports stop
after 2023Q2, a fund stops its quarterly update); C2 is younger than 3 months (every change
NaN). Reports: quarter end + 15 days, annual 30 April.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from tests.features.conftest import World
from watchtower.detect.reasons import FeatureText, build_reasons
from watchtower.features import Catalog, compute_features
from watchtower.features._changes import CHANGE_BY_NAME, clear_cache, reference_day

D = dt.date
AS_OF = D(2024, 7, 1)


def build(w: World) -> None:
    w.manager(
        "C1000001",
        D(2023, 5, 31),
        employee_count=12,
        qualified_employee_count=6,
        paid_in_capital=800.0,
    )
    # Dated before R3 but known only after it: invisible at R3 (superseded by D).
    w.manager(
        "C1000001",
        D(2024, 3, 15),
        known_from=D(2024, 4, 10),
        employee_count=5,
        qualified_employee_count=5,
        paid_in_capital=800.0,
    )
    w.manager(
        "C1000001",
        D(2024, 6, 30),
        employee_count=3,
        qualified_employee_count=3,
        paid_in_capital=200.0,
        fund_count=2,
    )
    # Known after D: invisible on D.
    w.manager(
        "C1000001",
        D(2024, 6, 30),
        known_from=D(2024, 7, 15),
        employee_count=1,
        qualified_employee_count=1,
        paid_in_capital=100.0,
    )
    w.detail("C1000001", D(2023, 6, 30), scale_low=0.0, scale_high=9999.0)
    w.detail("C1000001", D(2024, 6, 30), scale_low=0.0, scale_high=99.0)
    w.fund("FC0001", "C1000001", D(2023, 6, 30), last_quarter_update=True)
    w.fund("FC0001", "C1000001", D(2024, 6, 30), last_quarter_update=False)
    w.fund("FC0002", "C1000001", D(2024, 6, 30), put_on_record_date=D(2024, 5, 1))
    for period, sub in (
        ("2022Q2", D(2022, 7, 10)),
        ("2022Q3", D(2022, 10, 10)),
        ("2022Q4", D(2023, 1, 10)),
        ("2023Q1", D(2023, 4, 10)),
        ("2023Q2", D(2023, 7, 10)),
    ):
        w.report("FC0001", "quarterly", period, sub)
    w.report("FC0001", "annual", "2022", D(2023, 4, 20))
    w.manager("C1000002", D(2024, 5, 31), register_date=D(2024, 5, 1), employee_count=4)


EXPECTED: dict[str, dict[str, float]] = {
    "C1000001": {
        "employee_count_logchange_3m": math.log(4 / 13),  # 12 at R3 (the 5 was known later)
        "employee_count_logchange_6m": math.log(4 / 13),
        "qualified_staff_share_change_12m": 1.0 - 0.5,
        "paid_in_ratio_change_12m": 0.2 - 0.8,
        "operating_fund_count_logchange_6m": math.log(3 / 2),
        "operating_fund_count_logchange_12m": math.log(3 / 2),
        "scale_midpoint_log_change_12m": 1.0 - 2.0,
        # owed in the 12 months to D: 2023Q2-2024Q1 and annual 2023, 4 of 5 missing; to R6:
        # 2022Q4-2023Q3 and annual 2022, 1 of 5; to R12: 2022Q2-2023Q1 and annual 2022, none.
        "missing_report_share_12m_change_6m": 0.8 - 0.2,
        "missing_report_share_12m_change_12m": 0.8 - 0.0,
        "not_updated_share_change_6m": 0.5 - 0.0,
    },
    "C1000002": {name: math.nan for name in CHANGE_BY_NAME},
}


#: Change features declared neutral: on the development world their rise, not their drop,
#: came before incidents.
NOT_SCORED = {"qualified_staff_share_change_12m", "scale_midpoint_log_change_12m"}


@pytest.fixture
def frame(world: World, catalog: Catalog) -> pd.DataFrame:
    build(world)
    return compute_features(world.engine, AS_OF, catalog=catalog)


def test_reference_days() -> None:
    assert [reference_day(AS_OF, k) for k in (3, 6, 12)] == [
        D(2024, 3, 31),
        D(2023, 12, 31),
        D(2023, 6, 30),
    ]
    assert reference_day(D(2024, 6, 30), 3) == D(2024, 3, 31)  # a month end maps to one
    assert reference_day(D(2024, 6, 15), 3) == D(2024, 2, 29)


@pytest.mark.parametrize("register_no", sorted(EXPECTED))
def test_known_answers(frame: pd.DataFrame, register_no: str) -> None:
    row = frame.loc[register_no]
    for name, want in EXPECTED[register_no].items():
        got = row[name]
        if math.isnan(want):
            assert math.isnan(got), f"{register_no} {name}: {got} != NaN"
        else:
            assert got == pytest.approx(want, abs=1e-9), f"{register_no} {name}"


def test_present_values_are_point_in_time(frame: pd.DataFrame) -> None:
    # The row known after D (1 employee) is invisible: 3 on D.
    assert frame.loc["C1000001", "employee_count"] == 3.0


def test_a_row_added_later_is_seen_by_the_next_computation(world: World, catalog: Catalog) -> None:
    build(world)
    clear_cache()
    before = compute_features(world.engine, AS_OF, catalog=catalog)
    # A snapshot dated at R6 and known by it, arriving after the first computation.
    world.manager(
        "C1000001",
        D(2023, 12, 31),
        employee_count=20,
        qualified_employee_count=6,
        paid_in_capital=800.0,
    )
    after = compute_features(world.engine, AS_OF, catalog=catalog)
    assert before.loc["C1000001", "employee_count_logchange_6m"] == pytest.approx(math.log(4 / 13))
    assert after.loc["C1000001", "employee_count_logchange_6m"] == pytest.approx(math.log(4 / 21))
    clear_cache()  # a fresh computation gives what the cached one gave
    again = compute_features(world.engine, AS_OF, catalog=catalog)
    pd.testing.assert_frame_equal(after, again)


def test_every_change_feature_is_declared(catalog: Catalog) -> None:
    for name, change in CHANGE_BY_NAME.items():
        spec = catalog[name]
        assert spec.window == f"{change.months}m"
        base = catalog[change.base]
        if name in NOT_SCORED:  # shown, not scored (see the catalog's deterioration block)
            assert spec.direction == "neutral", name
        elif base.direction != "neutral":
            assert spec.direction == base.direction, name
        else:  # a drop in a size is the risky way
            assert spec.direction == "lower_is_riskier", name


def _text(catalog: Catalog, name: str) -> FeatureText:
    s = catalog[name]
    return FeatureText(s.name, s.label_zh, s.label_en, s.reason_zh, s.reason_en, s.unit)


def test_reason_names_past_and_present(catalog: Catalog) -> None:
    name = "employee_count_logchange_6m"
    texts = {name: _text(catalog, name)}
    change = math.log(4 / 13)
    reasons = build_reasons(
        [], {name: 4.0}, {name: change, "employee_count": 3.0}, {name: 0.0}, texts
    )
    assert reasons[0]["zh"] == "员工人数 6 个月内由 12 人变为 3 人"
    assert reasons[0]["en"] == "staff went from 12 to 3 in 6 months"
    assert reasons[0]["value"] == pytest.approx(change)
    # A difference: the past value is present - change.
    name = "qualified_staff_share_change_12m"
    texts = {name: _text(catalog, name)}
    reasons = build_reasons(
        [], {name: 4.0}, {name: -0.5, "qualified_staff_share": 0.25}, {name: 0.0}, texts
    )
    assert reasons[0]["en"] == "qualified staff share went from 75% to 25% in 12 months"
    assert "由 75% 变为 25%" in reasons[0]["zh"]


def test_reason_without_the_present_value_says_the_change(catalog: Catalog) -> None:
    name = "operating_fund_count_logchange_12m"
    texts = {name: _text(catalog, name)}
    reasons = build_reasons([], {name: 4.0}, {name: -1.0}, {name: 0.0}, texts)
    assert reasons[0]["zh"] == "运作中基金数12个月变化 -1"
    assert reasons[0]["en"] == "Operating funds change over 12 months -1"


def test_explain_fills_past_and_months(catalog: Catalog) -> None:
    spec = catalog["employee_count_logchange_3m"]
    text = spec.explain(math.log(4 / 13), "en", past=12.0, now=3.0)
    assert text == "staff went from 12 to 3 in 3 months"
    assert spec.explain(-0.5, "zh") == "员工人数3个月变化 -0.5"
