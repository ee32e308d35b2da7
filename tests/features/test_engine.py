"""Every feature checked on a hand-made history with known answers, as of D = 2024-07-01.

Windows as of D: 12 months from 2023-07-01, 6 months from 2024-01-01, 24 months from
2022-07-01, 90 days from 2024-04-02, 365 days from 2023-07-02. Deadlines: month end + 10
days, quarter end + 15 days, annual 30 April. The last quarter past its deadline is 2024Q1.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.features.conftest import World
from watchtower.features import (
    META_COLUMNS,
    Catalog,
    CatalogError,
    compute_features,
    computed_features,
    list_partitions,
    load_catalog,
)
from watchtower.features.engine import DEFAULT_WINDOWS, FIXED_WINDOWS, window_problems

D = dt.date
AS_OF = D(2024, 7, 1)
USCC = "91350100M000100Y43"
P3_NAVS = [1.0, 1.1, 1.045, 1.0659, 1.097877]  # 2023Q1..2024Q1


def _monthly_due(year: int, month: int) -> dt.date:
    nxt = D(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1) + dt.timedelta(days=10)


def build(w: World) -> None:
    """P1 (securities, many signals), P2 (PE, young, no fund), P3 (securities, quarterly
    navs, annual overdue), P4 (other, sparse data, fund linked by name)."""
    # ---- P1 --------------------------------------------------------------------------
    w.manager(
        "P1000001",
        D(2023, 5, 31),
        paid_in_capital=500.0,
        employee_count=20,
        qualified_employee_count=10,
        uscc=USCC,
    )
    w.manager(
        "P1000001",
        D(2023, 12, 31),
        paid_in_capital=300.0,
        employee_count=20,
        qualified_employee_count=10,
        artificial_person_name="李四",
        uscc=USCC,
    )
    w.manager(
        "P1000001",
        D(2024, 6, 30),
        subscribed_capital=2000.0,
        paid_in_capital=300.0,
        employee_count=8,
        qualified_employee_count=4,
        artificial_person_name="王五",
        uscc=USCC,
        office_province="北京市",
        office_city="北京市",
        office_address="北京市朝阳区建国路1号",
        has_special_tips=True,
        member_type="非会员",
    )
    w.fund("SA0001", "P1000001", D(2024, 6, 30))
    w.fund(
        "SA0002",
        "P1000001",
        D(2024, 6, 30),
        mandator_name=None,
        put_on_record_date=D(2024, 3, 1),
        establish_date=D(2024, 2, 20),
        last_quarter_update=False,
    )
    for no, state in (("SA0003", "延期清算"), ("SA0005", "非正常清算")):
        w.fund(
            no,
            "P1000001",
            D(2024, 6, 30),
            working_state=state,
            put_on_record_date=None,
            establish_date=None,
        )
    for snap, state in (
        (D(2023, 3, 31), "正在运作"),
        (D(2023, 9, 30), "提前清算"),
        (D(2024, 6, 30), "提前清算"),
    ):
        w.fund(
            "SA0004",
            "P1000001",
            snap,
            working_state=state,
            put_on_record_date=None,
            establish_date=None,
        )
    # Monthly reports 2023-06..2024-05 except 2024-02/03; NAV +1% a month; two late.
    k = 0
    for y, m in [(2023, mm) for mm in range(6, 13)] + [(2024, 1), (2024, 4), (2024, 5)]:
        due = _monthly_due(y, m)
        late = {(2023, 8): 4, (2024, 4): 10}.get((y, m), -3)
        k = (y - 2023) * 12 + m - 6
        w.report("SA0001", "monthly", f"{y}-{m:02d}", due + dt.timedelta(days=late), nav=1.01**k)
    # A placeholder row for 2024-02, known unsubmitted: still missing.
    w.report("SA0001", "monthly", "2024-02", None, file_date=D(2024, 3, 31))
    quarterly = {  # period: (submitted, aum, investors, subs, reds, leverage)
        "2022Q2": (D(2022, 7, 10), 1000.0, 100, None, None, None),
        "2022Q3": (D(2022, 10, 10), 1000.0, 100, None, None, None),
        "2022Q4": (D(2023, 1, 10), 1000.0, 100, None, None, None),
        "2023Q1": (D(2023, 4, 10), 1000.0, 100, None, None, None),
        "2023Q2": (D(2023, 7, 10), 1200.0, 110, 306.0, 100.0, None),
        "2023Q4": (D(2024, 1, 10), 900.0, 90, 0.0, 300.0, 2.0),
        "2024Q1": (D(2024, 4, 25), 800.0, 80, 0.0, 102.0, 1.5),
    }
    for period, (sub, aum, inv, subs, reds, lev) in quarterly.items():
        w.report(
            "SA0001",
            "quarterly",
            period,
            sub,
            aum=aum,
            investor_count=inv,
            subscriptions=subs,
            redemptions=reds,
            leverage_ratio=lev,
        )
    w.report("SA0001", "annual", "2023", D(2024, 4, 20), audit_opinion="保留意见")
    ev = [  # (date, type, severity, reported)
        (D(2024, 5, 1), "litigation", 4, None),
        (D(2023, 9, 1), "enforcement", 5, None),
        (D(2024, 6, 15), "complaint", 2, D(2024, 6, 20)),
        (D(2022, 1, 1), "negative_news", 3, None),  # outside 365 days
        (D(2024, 1, 10), "controller_change", 3, None),
        (D(2024, 2, 1), "executive_change", 2, None),
        (D(2024, 3, 1), "business_abnormal", 3, None),
        (D(2023, 8, 1), "address_change", 1, None),
        (D(2024, 6, 30), "litigation", 5, D(2024, 7, 5)),  # known after D
    ]
    for day, kind, sev, rep in ev:
        w.event("P1000001", day, kind, severity=sev, **({"reported_date": rep} if rep else {}))
    w.event(None, D(2024, 6, 1), "negative_news", severity=3, uscc=USCC)  # linked by USCC

    # ---- P2 --------------------------------------------------------------------------
    w.manager(
        "P1000002",
        D(2024, 6, 30),
        primary_invest_type="私募股权、创业投资基金管理人",
        register_date=D(2023, 5, 10),
        subscribed_capital=500.0,
        paid_in_capital=150.0,
        employee_count=3,
        qualified_employee_count=3,
        in_blacklist=True,
        has_credit_tips=True,
        register_province="广东省",
        register_city="广州市",
        office_province="广东省",
        office_city="深圳市",
        register_address="广州市天河区1号",
        office_address="深圳市福田区2号",
    )

    # ---- P3 --------------------------------------------------------------------------
    w.manager(
        "P1000003",
        D(2024, 6, 30),
        register_date=D(2016, 3, 1),
        register_province="北京市",
        register_city="北京市",
        office_province="北京",
        office_city="北京",
        office_address="北京市 朝阳区建国路1号",
        employee_count=30,
        qualified_employee_count=30,
    )
    w.fund("SB0001", "P1000003", D(2024, 6, 30), put_on_record_date=D(2020, 6, 1))
    for i, period in enumerate(["2023Q1", "2023Q2", "2023Q3", "2023Q4", "2024Q1"]):
        y, q = int(period[:4]), int(period[-1])
        end = D(y + (q == 4), (3 * q) % 12 + 1, 1) - dt.timedelta(days=1)
        w.report(
            "SB0001", "quarterly", period, end + dt.timedelta(days=15), nav=P3_NAVS[i], aum=500.0
        )

    # ---- P4 --------------------------------------------------------------------------
    w.manager(
        "P1000004",
        D(2024, 5, 31),
        primary_invest_type="其他私募投资基金管理人",
        register_date=None,
        subscribed_capital=0.0,
        paid_in_capital=0.0,
        employee_count=0,
        qualified_employee_count=0,
        office_province=None,
        office_city=None,
        office_address=None,
        register_province="浙江省",
        register_city="宁波市",
        member_type=None,
        has_special_tips=None,
    )
    w.manager("P1000004", D(2024, 7, 15), in_blacklist=True)  # known after D
    w.fund(
        "SC0001",
        None,
        D(2024, 6, 30),
        manager_name="P1000004投资管理有限公司",
        put_on_record_date=None,
        establish_date=None,
    )


P3_RETURNS = np.array(P3_NAVS[1:]) / np.array(P3_NAVS[:-1]) - 1

EXPECTED: dict[str, dict[str, float]] = {
    "P1000001": {
        "paid_in_ratio": 0.15,
        "paid_in_below_25pct": 1.0,
        "paid_in_capital": 300.0,
        "subscribed_capital": 2000.0,
        "capital_changes_12m": 2.0,
        "paid_in_decreased_12m": 1.0,
        "years_since_registration": (AS_OF - D(2018, 1, 15)).days / 365.25,
        "months_without_fund": 0.0,
        "fund_scale": 5000.0,
        "legal_rep_changes_12m": 2.0,
        "employee_count": 8.0,
        "employee_drop_12m": 0.6,
        "qualified_staff_share": 0.5,
        "controller_changes_365d": 1.0,
        "executive_changes_365d": 1.0,
        "has_special_tips": 1.0,
        "has_credit_tips": 0.0,
        "in_blacklist": 0.0,
        "non_member": 1.0,
        "fund_count": 5.0,
        "operating_fund_count": 2.0,
        "extended_liquidation_count": 1.0,
        "abnormal_liquidation_count": 1.0,
        "no_custodian_share": 0.5,
        "funds_launched_6m": 1.0,
        "early_liquidations_12m": 1.0,
        "quarter_update_flag_missing": 1.0,
        "monthly_missing_12m": 2.0,
        "quarterly_missing_12m": 1.0,
        "annual_missing_12m": 0.0,
        "missing_report_share_12m": 3 / 17,
        "late_reports_12m": 3.0,
        "mean_delay_days_12m": 24 / 14,
        "delay_trend_days": 20 / 7 - 4 / 7,
        "annual_report_overdue": 0.0,
        "qualified_audit_count": 1.0,
        "quarterly_missed_24m": 2.0,
        "aum_total": 800.0,
        "aum_growth_12m": -0.2,
        "aum_drawdown_12m": 1 - 800 / 1200,
        "redemption_ratio_12m": 502 / 1020,
        "subscription_ratio_12m": 306 / 1020,
        "investor_growth_12m": -0.2,
        "leverage_max": 1.5,
        "return_smoothness": 10.0,
        "positive_return_share": 1.0,
        "events_90d": 3.0,
        "events_365d": 8.0,
        "severe_events_365d": 2.0,
        "max_event_severity_365d": 5.0,
        "event_severity_sum_90d": 9.0,
        "litigation_365d": 1.0,
        "enforcement_365d": 1.0,
        "complaint_365d": 1.0,
        "business_abnormal_365d": 1.0,
        "negative_news_365d": 1.0,
        "address_changes_365d": 1.0,
        "office_province_differs": 1.0,
        "office_district_differs": 1.0,
        "shared_address_count": 1.0,
        "paid_in_capital_pct": 0.5,
        "employee_count_pct": 0.5,
    },
    "P1000002": {
        "paid_in_ratio": 0.3,
        "paid_in_below_25pct": 0.0,
        "paid_in_capital": 150.0,
        "capital_changes_12m": 0.0,
        "years_since_registration": (AS_OF - D(2023, 5, 10)).days / 365.25,
        "months_without_fund": 13.0,
        "legal_rep_changes_12m": 0.0,
        "employee_drop_12m": 0.0,
        "qualified_staff_share": 1.0,
        "in_blacklist": 1.0,
        "has_credit_tips": 1.0,
        "fund_count": 0.0,
        "no_custodian_share": math.nan,
        "missing_report_share_12m": math.nan,
        "mean_delay_days_12m": math.nan,
        "aum_total": math.nan,
        "return_smoothness": math.nan,
        "events_365d": 0.0,
        "max_event_severity_365d": 0.0,
        "office_province_differs": 0.0,
        "office_district_differs": 1.0,  # 深圳 has its own CSRC bureau
        "shared_address_count": 0.0,
        "paid_in_capital_pct": 1.0,
    },
    "P1000003": {
        "office_province_differs": 0.0,  # 北京 == 北京市
        "office_district_differs": 0.0,
        "shared_address_count": 1.0,  # same address as P1 once normalized
        "quarterly_missing_12m": 0.0,
        "annual_missing_12m": 1.0,
        "annual_report_overdue": 1.0,
        "missing_report_share_12m": 0.2,
        "late_reports_12m": 0.0,
        "mean_delay_days_12m": 0.0,
        "delay_trend_days": 0.0,
        "quarterly_missed_24m": 3.0,
        "monthly_missing_12m": 0.0,
        "aum_total": 500.0,
        "aum_growth_12m": 0.0,
        "aum_drawdown_12m": 0.0,
        "redemption_ratio_12m": math.nan,
        "investor_growth_12m": math.nan,
        "leverage_max": math.nan,
        "return_smoothness": P3_RETURNS.mean() / P3_RETURNS.std(ddof=1),
        "positive_return_share": 0.75,
        "paid_in_capital_pct": 1.0,
        "employee_count_pct": 1.0,
    },
    "P1000004": {
        "paid_in_ratio": math.nan,
        "paid_in_below_25pct": math.nan,
        "years_since_registration": math.nan,
        "months_without_fund": 0.0,  # its fund is linked by the manager's name
        "fund_count": 1.0,
        "employee_drop_12m": math.nan,
        "qualified_staff_share": math.nan,
        "in_blacklist": 0.0,  # the blacklisting is known only after D
        "has_special_tips": math.nan,
        "non_member": math.nan,
        "office_province_differs": math.nan,
        "shared_address_count": 0.0,  # registration address stands in for the office
    },
}


@pytest.fixture
def frame(world: World, catalog: Catalog) -> pd.DataFrame:
    build(world)
    return compute_features(world.engine, AS_OF, catalog=catalog)


def test_shape_index_and_metadata(frame: pd.DataFrame, catalog: Catalog) -> None:
    assert list(frame.index) == ["P1000001", "P1000002", "P1000003", "P1000004"]
    assert frame.index.name == "register_no"
    assert list(frame.columns) == [*META_COLUMNS, *catalog.names]
    assert all(frame[c].dtype == "float64" for c in catalog.names)
    assert frame.loc["P1000001", "province"] == "北京市"  # office location
    assert frame.loc["P1000004", "province"] == "浙江省"  # registration: office empty
    assert frame.loc["P1000004", "city"] == "宁波市"
    assert frame.loc["P1000002", "manager_type"] == "私募股权、创业投资基金管理人"


@pytest.mark.parametrize("register_no", sorted(EXPECTED))
def test_known_answers(frame: pd.DataFrame, register_no: str) -> None:
    row = frame.loc[register_no]
    wrong = {
        name: (row[name], want)
        for name, want in EXPECTED[register_no].items()
        if not (
            (math.isnan(want) and math.isnan(row[name]))
            or (not math.isnan(want) and row[name] == pytest.approx(want, rel=1e-9, abs=1e-12))
        )
    }
    assert wrong == {}


def test_every_computed_feature_has_a_known_answer() -> None:
    from tests.features.test_changes import EXPECTED as CHANGES
    from tests.features.test_network import EXPECTED as NETWORK
    from tests.features.test_public import EXPECTED as PUBLIC

    checked = set().union(
        *EXPECTED.values(), *PUBLIC.values(), *CHANGES.values(), *NETWORK.values()
    )
    assert set(computed_features()) - checked == set()


def test_peer_percentiles_are_within_type(frame: pd.DataFrame, catalog: Catalog) -> None:
    for spec in catalog:
        if spec.peer_of is None:
            continue
        want = frame.groupby("manager_type")[spec.peer_of].rank(pct=True)
        pd.testing.assert_series_equal(frame[spec.name], want, check_names=False)


def test_partition_rows_equal_the_full_run(world: World, catalog: Catalog) -> None:
    build(world)
    full = compute_features(world.engine, AS_OF, catalog=catalog)
    assert list_partitions(world.engine, AS_OF) == ["other", "pe_vc", "securities"]
    parts = [
        compute_features(world.engine, AS_OF, catalog=catalog, partition=p)
        for p in list_partitions(world.engine, AS_OF)
    ]
    together = pd.concat(parts).sort_index()
    pd.testing.assert_frame_equal(together, full, check_exact=True)
    assert list(parts[2].index) == ["P1000001", "P1000003"]
    with pytest.raises(ValueError, match="unknown partition"):
        compute_features(world.engine, AS_OF, catalog=catalog, partition="hedge")


def test_empty_store_gives_an_empty_frame(world: World, catalog: Catalog) -> None:
    out = compute_features(world.engine, AS_OF, catalog=catalog)
    assert out.empty
    assert list(out.columns) == [*META_COLUMNS, *catalog.names]


def test_deterministic(world: World, catalog: Catalog) -> None:
    build(world)
    a = compute_features(world.engine, AS_OF, catalog=catalog)
    b = compute_features(world.engine, AS_OF, catalog=catalog)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_day_before_registration_changes_is_different(world: World, catalog: Catalog) -> None:
    """The engine does look at time: a day earlier, the June snapshots are unknown."""
    build(world)
    early = compute_features(world.engine, D(2024, 6, 29), catalog=catalog)
    assert early.loc["P1000001", "paid_in_capital"] == 300.0
    assert early.loc["P1000001", "legal_rep_changes_12m"] == 1.0
    assert "P1000002" not in early.index


def _catalog_with(tmp_path: Any, **windows: str) -> Path:
    """The project catalog with some features' windows changed, as a file."""
    import yaml

    from tests.features.conftest import ROOT

    data = yaml.safe_load((ROOT / "features" / "catalog.yaml").read_text(encoding="utf-8"))
    for f in data["features"]:
        f["window"] = windows.get(f["name"], f["window"])
    out = Path(str(tmp_path)) / "catalog.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return out


def test_declared_event_windows_change_the_values(
    world: World, catalog: Catalog, tmp_path: Any
) -> None:
    build(world)
    path = _catalog_with(
        tmp_path,
        events_365d="180d",
        events_365d_pct="180d",  # a percentile has its base's window
        max_event_severity_365d="90d",
        controller_changes_365d="90d",
        events_90d="1000d",  # longer than every other: the events read covers it
    )
    changed = compute_features(world.engine, AS_OF, catalog=load_catalog(path)).loc["P1000001"]
    shipped = compute_features(world.engine, AS_OF, catalog=catalog).loc["P1000001"]
    assert (shipped["events_365d"], changed["events_365d"]) == (8.0, 6.0)
    assert (shipped["max_event_severity_365d"], changed["max_event_severity_365d"]) == (5.0, 4.0)
    assert (shipped["controller_changes_365d"], changed["controller_changes_365d"]) == (1.0, 0.0)
    assert (shipped["events_90d"], changed["events_90d"]) == (3.0, 9.0)  # with 2022's news
    # the features whose window did not change keep their values
    same = [n for n in catalog.names if n not in ("events_365d", "events_365d_pct")]
    same = [n for n in same if n not in ("max_event_severity_365d", "controller_changes_365d")]
    same.remove("events_90d")
    pd.testing.assert_series_equal(changed[same], shipped[same], check_exact=True)


def test_a_window_the_engine_does_not_apply_is_refused(tmp_path: Any) -> None:
    path = _catalog_with(tmp_path, capital_changes_12m="6m")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and "(capital_changes_12m): window '6m'" in message
    assert "over '12m' only" in message and "set window: 12m" in message
    unchecked = load_catalog(path, check_engine=False)  # the engine refuses it too
    with pytest.raises(ValueError, match=r"capital_changes_12m '6m' \(computed over '12m'\)"):
        compute_features(sa.create_engine("sqlite://"), AS_OF, catalog=unchecked)


def test_a_peer_percentile_declares_its_base_window(tmp_path: Any) -> None:
    path = _catalog_with(tmp_path, events_365d_pct="90d")
    with pytest.raises(CatalogError, match="events_365d_pct: window '90d' differs from its base"):
        load_catalog(path)


def test_every_computed_feature_has_its_window_owner(catalog: Catalog) -> None:
    # adjustable (the catalog's window is applied) or fixed (checked): never both, never none
    assert not set(DEFAULT_WINDOWS) & set(FIXED_WINDOWS)
    assert set(DEFAULT_WINDOWS) | set(FIXED_WINDOWS) == set(computed_features())
    assert {n: catalog[n].window for n in FIXED_WINDOWS} == FIXED_WINDOWS
    assert window_problems({"capital_changes_12m": "6m", "events_90d": "30d"}) == {
        "capital_changes_12m": "12m"
    }
