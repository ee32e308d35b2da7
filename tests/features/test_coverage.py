"""Report coverage: obligations due before the store's first report row are not missed.

Hand-made world: two securities managers with one fund each, both filed in 2019; the store's
first report row is known on 2024-01-10 (so the report coverage start is 2024-01-10 from that
day on). Quarterly deadlines: quarter end + 15 days; annual: 30 April.

- P2000001 / SF0001: files everything on time from 2023Q4; also a 2023Q2 report submitted
  late on 2024-03-01 (due 2023-07-15, before coverage: out of scope).
- P2000002 / SF0002: 2023Q4 on time, 2024Q1 never filed, 2024Q2 late (2024-07-30), 2024Q3
  on time: two quarterly failures after coverage, AMAC's 异常机构 threshold.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from tests.features.conftest import ROOT, World
from watchtower.detect.rules import evaluate_rules, load_rules
from watchtower.features import Catalog, compute_features
from watchtower.features._history import day_number, read_coverage

D = dt.date
FILED = D(2019, 3, 1)


def build(w: World) -> None:
    for no, fund in (("P2000001", "SF0001"), ("P2000002", "SF0002")):
        w.manager(no, D(2023, 12, 31), register_date=D(2018, 6, 1), fund_count=1)
        w.fund(fund, no, D(2023, 12, 31), put_on_record_date=FILED, establish_date=FILED)
    on_time = {
        "2023Q4": D(2024, 1, 10),
        "2024Q1": D(2024, 4, 12),
        "2024Q2": D(2024, 7, 12),
        "2024Q3": D(2024, 10, 12),
    }
    for period, sub in on_time.items():
        w.report("SF0001", "quarterly", period, sub, nav=1.0, aum=100.0)
    w.report("SF0001", "quarterly", "2023Q2", D(2024, 3, 1), nav=1.0, aum=100.0)
    w.report("SF0001", "annual", "2023", D(2024, 4, 20), audit_opinion="标准无保留意见")
    w.report("SF0002", "quarterly", "2023Q4", D(2024, 1, 12), nav=1.0, aum=100.0)
    w.report("SF0002", "quarterly", "2024Q2", D(2024, 7, 30), nav=1.0, aum=100.0)
    w.report("SF0002", "quarterly", "2024Q3", D(2024, 10, 14), nav=1.0, aum=100.0)
    w.report("SF0002", "annual", "2023", D(2024, 4, 25), audit_opinion="标准无保留意见")


def test_coverage_start_is_the_first_report_row_known_by_d(world: World) -> None:
    build(world)
    with world.engine.connect() as conn:
        before_reports = read_coverage(conn, D(2024, 1, 9))
        later = read_coverage(conn, D(2024, 7, 1))
    assert math.isnan(before_reports[0])  # no report row known yet: no coverage
    assert before_reports[1] == later[1] == day_number(D(2023, 12, 31))
    # The first report row known (SF0001's 2023Q4, submitted 2024-01-10); the late 2023Q2
    # report is known from 2024-03-01 only, its old period does not move the start.
    assert later[0] == day_number(D(2024, 1, 10))


def test_no_missed_reports_before_coverage(world: World, catalog: Catalog) -> None:
    build(world)
    f = compute_features(world.engine, D(2024, 7, 1), catalog=catalog).loc["P2000001"]
    # Owed in scope by 2024-07-01: 2023Q4 (due 2024-01-15), 2024Q1 (2024-04-15), annual 2023
    # (2024-04-30); all on time. 2022Q2..2023Q3 (due before 2024-01-10) are not owed.
    assert f["quarterly_missing_12m"] == 0.0
    assert f["quarterly_missed_24m"] == 0.0
    assert f["annual_missing_12m"] == 0.0
    assert f["annual_report_overdue"] == 0.0
    assert f["missing_report_share_12m"] == 0.0
    # The late 2023Q2 report (due 2023-07-15, before coverage) is out of scope: not late.
    assert f["late_reports_12m"] == 0.0
    assert f["mean_delay_days_12m"] == 0.0


def test_two_quarters_missed_after_coverage_count(world: World, catalog: Catalog) -> None:
    build(world)
    frame = compute_features(world.engine, D(2024, 10, 31), catalog=catalog)
    bad, good = frame.loc["P2000002"], frame.loc["P2000001"]
    # 2024Q1 never filed (missing), 2024Q2 filed 15 days late: two failures.
    assert bad["quarterly_missing_12m"] == 1.0
    assert bad["late_reports_12m"] == 1.0
    assert bad["quarterly_missed_24m"] == 2.0
    # Owed in the 12 months from 2023-10-31: 2023Q4..2024Q3 + annual 2023 = 5; 1 missing.
    assert bad["missing_report_share_12m"] == pytest.approx(1 / 5)
    assert bad["mean_delay_days_12m"] == pytest.approx(15 / 4)
    assert good["quarterly_missed_24m"] == 0.0
    assert good["missing_report_share_12m"] == 0.0
    rules = load_rules(ROOT / "models" / "rules.yaml")
    hits = evaluate_rules(frame, rules).hits["abnormal_institution"]
    assert hits.to_dict() == {"P2000001": False, "P2000002": True}


def test_nothing_is_missed_before_any_report_is_known(world: World, catalog: Catalog) -> None:
    """Before any report row is known the report feed is absent: missing, not 0 (1.2.0)."""
    build(world)
    f = compute_features(world.engine, D(2024, 1, 9), catalog=catalog)
    assert f["quarterly_missed_24m"].isna().all()
    assert f["quarterly_missing_12m"].isna().all()
    assert f["annual_missing_12m"].isna().all()
    assert f["missing_report_share_12m"].isna().all()  # nothing owed in scope


def test_coverage_is_store_wide_whatever_the_partition(world: World, catalog: Catalog) -> None:
    build(world)
    # A PE manager whose fund's reports arrive only later: still owes from 2024-01-10.
    world.manager("P2000003", D(2023, 12, 31), primary_invest_type="私募股权、创业投资基金管理人")
    world.fund("SF0003", "P2000003", D(2023, 12, 31), put_on_record_date=FILED)
    world.report("SF0003", "quarterly", "2024Q2", D(2024, 7, 10), nav=1.0, aum=1.0)
    as_of = D(2024, 10, 31)
    full = compute_features(world.engine, as_of, catalog=catalog)
    part = compute_features(world.engine, as_of, catalog=catalog, partition="pe_vc")
    pd.testing.assert_frame_equal(part, full.loc[part.index], check_exact=True)
    # 2023Q4 and 2024Q1 missing, 2024Q3 missing: three, all due after 2024-01-10.
    assert part.loc["P2000003", "quarterly_missed_24m"] == 3.0


def test_liquidated_before_fund_coverage_is_not_an_early_liquidation(
    world: World, catalog: Catalog
) -> None:
    build(world)
    # Already 提前清算 in the first fund snapshot we hold: liquidated at an unknown time.
    world.fund("SF0004", "P2000001", D(2023, 12, 31), working_state="提前清算")
    # Operating in the first snapshot, 提前清算 in the next: liquidated after coverage.
    world.fund("SF0005", "P2000002", D(2023, 12, 31))
    world.fund("SF0005", "P2000002", D(2024, 3, 31), working_state="提前清算")
    f = compute_features(world.engine, D(2024, 7, 1), catalog=catalog)
    assert f.loc["P2000001", "early_liquidations_12m"] == 0.0
    assert f.loc["P2000002", "early_liquidations_12m"] == 1.0
