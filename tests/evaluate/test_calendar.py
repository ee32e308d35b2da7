"""The one calendar of as-of days (backtests and the backfill DAG), no database."""

from __future__ import annotations

import datetime as dt

import pytest

from watchtower.evaluate.backtest import as_of_days, backtest_days


def test_daily_weekly_monthly_quarterly() -> None:
    start, end = dt.date(2024, 1, 1), dt.date(2024, 3, 31)
    assert as_of_days(start, end, "daily") == [
        start + dt.timedelta(days=i) for i in range((end - start).days + 1)
    ]
    weeks = as_of_days(start, end, "weekly")
    assert all(d.weekday() == 6 for d in weeks) and weeks[0] == dt.date(2024, 1, 7)
    assert as_of_days(start, end, "monthly") == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
    ]
    assert as_of_days(start, end, "quarterly") == [dt.date(2024, 3, 31)]


def test_month_ends_are_the_days_before_a_first() -> None:
    start, end = dt.date(2023, 1, 1), dt.date(2024, 12, 31)
    every = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    assert as_of_days(start, end, "monthly") == [
        d for d in every if (d + dt.timedelta(days=1)).day == 1
    ]


def test_a_range_without_such_a_day_is_empty_but_a_backtest_refuses_it() -> None:
    assert as_of_days(dt.date(2024, 1, 1), dt.date(2024, 1, 20), "monthly") == []
    with pytest.raises(ValueError, match="no monthly"):
        backtest_days(dt.date(2024, 1, 1), dt.date(2024, 1, 20), "monthly")


def test_errors() -> None:
    with pytest.raises(ValueError, match="is before start"):
        as_of_days(dt.date(2024, 6, 30), dt.date(2024, 1, 1), "daily")
    with pytest.raises(ValueError, match="unknown frequency"):
        as_of_days(dt.date(2024, 1, 1), dt.date(2024, 1, 2), "hourly")
    with pytest.raises(ValueError, match="unknown frequency"):  # a backtest is never daily
        backtest_days(dt.date(2024, 1, 1), dt.date(2024, 3, 31), "daily")
