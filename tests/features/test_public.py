"""Features the public AMAC feed can feed, on a hand-made store, as of D = 2024-07-01.

Windows as of D: 12 months from 2023-07-01, 6 months from 2024-01-01 (both exclusive).
The store has list rows, detail pages, fund rows and pages and change events only: no
reports and no events (the supervisor's own feeds), as with real public data.

- P3000001: lost its products in January 2024, a detail page (失联 and two institution
  notices) known 2024-03-01 and a newer one known only after D; moved its office to 深圳.
- P3000002: list rows only (no detail page), four funds: launches, an early and an abnormal
  liquidation (plus change events), a late quarterly update, two fund pages.
- P3000003: the list says 3 funds, none of them is in the store.
- P3000004: nothing known about its funds; a leftover 1 元 (0.0001 万元) paid-in placeholder.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from tests.features.conftest import World
from watchtower.features import Catalog, compute_features, load_catalog
from watchtower.features.engine import DEFAULT_WINDOWS

D = dt.date
AS_OF = D(2024, 7, 1)
LIST_ONLY = {  # what a real public list row does not carry
    "paid_in_capital": None,
    "subscribed_capital": None,
    "employee_count": None,
    "qualified_employee_count": None,
    "fund_scale": None,
    "in_blacklist": None,
    "reg_adr_agg": "陕西省",
    "office_adr_agg": "陕西省",
}


def build(w: World) -> None:
    # ---- P3000001 --------------------------------------------------------------------
    p1 = {**LIST_ONLY}
    w.manager("P3000001", D(2023, 5, 31), **p1, manager_has_product=True, fund_count=2)
    w.manager("P3000001", D(2024, 1, 31), **p1, manager_has_product=False, fund_count=0)
    p1["office_adr_agg"] = "深圳市"
    w.manager("P3000001", D(2024, 6, 30), **p1, manager_has_product=False, fund_count=0)
    w.detail(
        "P3000001",
        D(2024, 3, 1),
        paid_in_capital=100.0,
        subscribed_capital=1000.0,
        paid_in_ratio=0.1,
        employee_count=6,
        qualified_employee_count=3,
        scale_range="0-5亿元",
        scale_low=0.0,
        scale_high=50000.0,
        integrity_tips=["失联"],
        institution_tips=["存在逾期未清算基金", "注册地与办公地不在同一辖区"],
    )
    w.detail(  # known after D: invisible on D
        "P3000001",
        D(2024, 7, 10),
        paid_in_capital=900.0,
        subscribed_capital=1000.0,
        paid_in_ratio=0.9,
        employee_count=6,
        qualified_employee_count=6,
        integrity_tips=[],
        institution_tips=[],
    )
    for day, kind, known in (
        (D(2024, 6, 30), "address_change", None),
        (D(2024, 6, 20), "address_change", D(2024, 7, 2)),  # known after D
        (D(2024, 6, 30), "jurisdiction_change", None),
        (D(2024, 1, 31), "fund_count_drop", None),
        (D(2023, 10, 1), "fund_count_drop", None),  # 12 months, not 6
        (D(2024, 5, 1), "special_tips_added", D(2024, 7, 5)),  # known after D
        (D(2023, 8, 1), "credit_tips_added", None),
        (D(2023, 6, 15), "legal_rep_change", None),  # before the 12 months
    ):
        w.change("P3000001", day, kind, known)

    # ---- P3000002 --------------------------------------------------------------------
    w.manager(
        "P3000002",
        D(2024, 6, 30),
        **LIST_ONLY,
        manager_has_product=True,
        fund_count=5,
        member_type="非会员机构",
    )
    w.fund(
        "TA0001",
        "P3000002",
        D(2024, 6, 30),
        put_on_record_date=D(2024, 3, 1),
        last_quarter_update=False,
    )
    w.fund("TA0002", "P3000002", D(2024, 6, 30), put_on_record_date=D(2023, 9, 1))
    for no, end_state, end_day in (
        ("TA0003", "提前清算", D(2024, 2, 29)),
        ("TA0004", "非正常清算", D(2024, 4, 30)),
    ):
        w.fund(no, "P3000002", D(2023, 3, 31))
        w.fund(no, "P3000002", end_day, working_state=end_state)
    for day, state in (
        (D(2024, 2, 29), "提前清算"),
        (D(2024, 4, 30), "非正常清算"),
        (D(2024, 5, 15), "提前清算"),  # a fund whose rows the store no longer reads
        (D(2024, 6, 1), "正常清算"),  # a normal liquidation
        (D(2023, 5, 1), "提前清算"),  # before the 12 months
    ):
        w.change("P3000002", day, "fund_liquidation", field="working_state", new_value=state)
    w.fund_detail(
        "TA0001",
        D(2024, 6, 30),
        quarterly_due=4,
        quarterly_on_time=2,
        quarterly_missing=2,
        annual_due=1,
        annual_on_time=1,
        annual_missing=0,
    )
    w.fund_detail(
        "TA0002", D(2024, 6, 30), quarterly_due=4, quarterly_on_time=4, quarterly_missing=0
    )
    w.fund_detail(  # known after D
        "TA0002", D(2024, 7, 5), quarterly_due=4, quarterly_on_time=0, quarterly_missing=4
    )

    # ---- P3000003 / P3000004 ---------------------------------------------------------
    w.manager("P3000003", D(2024, 6, 30), **LIST_ONLY, manager_has_product=None, fund_count=3)
    w.manager(
        "P3000004",
        D(2024, 6, 30),
        **{**LIST_ONLY, "paid_in_capital": 0.0001, "reg_adr_agg": None},
        manager_has_product=None,
        fund_count=None,
    )


NAN = math.nan
EXPECTED: dict[str, dict[str, float]] = {
    "P3000001": {
        "paid_in_capital": 100.0,
        "subscribed_capital": 1000.0,
        "paid_in_ratio": 0.1,
        "paid_in_below_25pct": 1.0,
        "capital_changes_12m": NAN,  # no list row gives a capital
        "paid_in_decreased_12m": NAN,
        "employee_count": 6.0,
        "qualified_staff_share": 0.5,
        "integrity_tip_count": 1.0,
        "institution_tip_count": 2.0,
        "serious_integrity_tip": 1.0,
        "scale_midpoint_log": math.log10(50001.0) / 2,
        "jurisdiction_differs": 1.0,
        "non_member": 0.0,
        "months_without_product": 5.0,  # 2024-01-31 -> 2024-07-01
        "fund_count": 0.0,  # the list says 0: known
        "funds_launched_12m": 0.0,
        "early_abnormal_liquidations_12m": 0.0,
        "not_updated_share": NAN,
        "fund_disclosure_missing_share": NAN,
        "fund_disclosure_missing": NAN,
        "address_changes_6m": 1.0,
        "address_changes_12m": 1.0,
        "jurisdiction_changes_12m": 1.0,
        "legal_rep_change_events_12m": 0.0,
        "fund_count_drops_6m": 1.0,
        "fund_count_drops_12m": 2.0,
        "tips_added_12m": 1.0,
        # no report and no event feed: missing, not 0
        "quarterly_missed_24m": NAN,
        "annual_report_overdue": NAN,
        "events_365d": NAN,
        "enforcement_365d": NAN,
        "controller_changes_365d": NAN,
    },
    "P3000002": {
        "paid_in_capital": NAN,  # no detail page, NULL in the list
        "subscribed_capital": NAN,
        "paid_in_ratio": NAN,
        "paid_in_below_25pct": NAN,
        "employee_count": NAN,
        "qualified_staff_share": NAN,
        "integrity_tip_count": NAN,
        "institution_tip_count": NAN,
        "serious_integrity_tip": NAN,
        "scale_midpoint_log": NAN,
        "jurisdiction_differs": 0.0,
        "non_member": 1.0,  # 非会员机构
        "legal_rep_changes_12m": 0.0,
        "fund_count": 4.0,
        "operating_fund_count": 2.0,
        "funds_launched_6m": 1.0,
        "funds_launched_12m": 2.0,
        "early_liquidations_12m": 1.0,
        "abnormal_liquidation_count": 1.0,
        "early_abnormal_liquidations_12m": 3.0,  # max(2 funds, 3 change events)
        "quarter_update_flag_missing": 1.0,
        "not_updated_share": 0.5,
        "months_without_product": 0.0,
        "months_without_fund": 0.0,
        "fund_disclosure_missing_share": 2 / 9,
        "fund_disclosure_missing": 2.0,
        "address_changes_12m": NAN,  # one list snapshot: no change can be seen
        "fund_count_drops_6m": NAN,
        "tips_added_12m": NAN,
    },
    "P3000003": {
        "fund_count": NAN,  # the list says 3 funds, none is in the store
        "operating_fund_count": NAN,
        "funds_launched_6m": NAN,
        "early_abnormal_liquidations_12m": NAN,
        "months_without_fund": 0.0,
        "months_without_product": 0.0,
        "not_updated_share": NAN,
    },
    "P3000004": {
        "paid_in_capital": NAN,  # the 1 元 placeholder is no value
        "fund_count": NAN,
        "months_without_fund": NAN,
        "months_without_product": NAN,
        "jurisdiction_differs": NAN,
    },
}


@pytest.fixture
def frame(world: World, catalog: Catalog) -> pd.DataFrame:
    build(world)
    return compute_features(world.engine, AS_OF, catalog=catalog)


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


def test_a_detail_page_and_change_events_known_after_d_count_later(
    world: World, catalog: Catalog
) -> None:
    build(world)
    later = compute_features(world.engine, D(2024, 7, 10), catalog=catalog).loc["P3000001"]
    assert later["paid_in_capital"] == 900.0
    assert later["paid_in_ratio"] == 0.9
    assert later["serious_integrity_tip"] == 0.0
    assert later["integrity_tip_count"] == 0.0
    assert later["address_changes_6m"] == 2.0  # the one known 2024-07-02
    assert later["tips_added_12m"] == 2.0  # the one known 2024-07-05
    before = compute_features(world.engine, D(2024, 2, 29), catalog=catalog).loc["P3000001"]
    assert math.isnan(before["paid_in_capital"])  # the first page is known from 2024-03-01
    assert math.isnan(before["serious_integrity_tip"])
    assert before["months_without_product"] == 0.0  # 2024-01-31 -> 2024-02-29


def test_twelve_months_without_a_product(world: World, catalog: Catalog) -> None:
    build(world)
    f = compute_features(world.engine, D(2025, 2, 1), catalog=catalog)
    assert f.loc["P3000001", "months_without_product"] == 12.0


def test_partitions_equal_the_full_run(world: World, catalog: Catalog) -> None:
    build(world)
    world.manager("P3000009", D(2024, 6, 30), primary_invest_type="私募股权、创业投资基金管理人")
    full = compute_features(world.engine, AS_OF, catalog=catalog)
    parts = [
        compute_features(world.engine, AS_OF, catalog=catalog, partition=p)
        for p in ("pe_vc", "securities")
    ]
    pd.testing.assert_frame_equal(pd.concat(parts).sort_index(), full, check_exact=True)


def test_declared_windows_drive_the_computation(world: World, tmp_path: object) -> None:
    """The engine's fallback windows are the catalog's, and a catalog's window is used."""
    from pathlib import Path

    import yaml

    from tests.features.conftest import ROOT

    project = load_catalog(ROOT / "features")
    assert {n: project[n].window for n in DEFAULT_WINDOWS} == DEFAULT_WINDOWS
    build(world)
    data = yaml.safe_load((ROOT / "features" / "catalog.yaml").read_text(encoding="utf-8"))
    for f in data["features"]:
        if f["name"] in ("funds_launched_12m", "fund_count_drops_6m"):
            f["window"] = "1m" if f["name"] == "funds_launched_12m" else "12m"
    out = Path(str(tmp_path)) / "catalog.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    changed = compute_features(world.engine, AS_OF, catalog=load_catalog(out))
    assert changed.loc["P3000002", "funds_launched_12m"] == 0.0  # none filed in June 2024
    assert changed.loc["P3000001", "fund_count_drops_6m"] == 2.0
