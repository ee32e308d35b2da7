"""No leakage: features for day D are identical whether or not data known after D exists."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.features.conftest import World
from tests.features.test_engine import AS_OF, USCC, build
from watchtower.features import Catalog, compute_features

D = dt.date
DAYS = [D(2023, 9, 30), D(2024, 1, 15), D(2024, 4, 30), AS_OF]


def add_future(w: World, after: dt.date) -> None:
    """Rows that all become known after ``after``: snapshots, late reports, later events."""
    later = after + dt.timedelta(days=1)
    for no in ("P1000001", "P1000002", "P1000003"):
        w.manager(
            no,
            later,
            paid_in_capital=1.0,
            employee_count=1,
            in_blacklist=True,
            artificial_person_name="赵六",
            office_province="新疆维吾尔自治区",
        )
    w.manager("P1000009", later, register_date=D(2015, 1, 1))  # a manager new after D
    w.fund("SA0001", "P1000001", later, working_state="非正常清算", mandator_name=None)
    w.fund("SA0009", "P1000009", later, put_on_record_date=D(2016, 1, 1))
    # Reports due before D, submitted only after it; a brand-new period; a correction.
    w.report("SA0001", "monthly", "2024-02", later, nav=0.5)
    w.report("SA0001", "monthly", "2024-03", later + dt.timedelta(days=3), nav=0.4)
    w.report("SA0001", "quarterly", "2023Q3", later, aum=1.0, redemptions=1e6)
    w.report("SA0001", "quarterly", "2024Q2", later, aum=5.0, leverage_ratio=9.0)
    w.report("SA0001", "annual", "2023", later, audit_opinion="否定意见")
    w.report("SB0001", "annual", "2023", later, audit_opinion="无法表示意见")
    w.report("SB0001", "quarterly", "2022Q4", later, nav=9.0, aum=1.0)
    # Events dated before D but reported after it, and events after D.
    w.event(
        "P1000001", after - dt.timedelta(days=5), "enforcement", severity=5, reported_date=later
    )
    w.event(
        None, after - dt.timedelta(days=1), "litigation", severity=5, uscc=USCC, reported_date=later
    )
    w.event("P1000002", later, "negative_news", severity=4)


@pytest.mark.parametrize("as_of", DAYS, ids=str)
def test_features_ignore_data_known_after_d(world: World, catalog: Catalog, as_of: dt.date) -> None:
    build(world)
    before = compute_features(world.engine, as_of, catalog=catalog)
    add_future(world, as_of)
    after = compute_features(world.engine, as_of, catalog=catalog)
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    # ... and the late data is really there: the next day sees it.
    next_day = compute_features(world.engine, as_of + dt.timedelta(days=1), catalog=catalog)
    assert "P1000009" in next_day.index
    assert next_day.loc["P1000001", "in_blacklist"] == 1.0


def test_partitioned_features_ignore_later_data(world: World, catalog: Catalog) -> None:
    build(world)
    before = compute_features(world.engine, AS_OF, catalog=catalog, partition="securities")
    add_future(world, AS_OF)
    after = compute_features(world.engine, AS_OF, catalog=catalog, partition="securities")
    pd.testing.assert_frame_equal(after, before, check_exact=True)
