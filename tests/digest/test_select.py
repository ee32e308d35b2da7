"""Digest selection on plain data (no database): which alerts a digest shows, in which
section, the tier an escalated alert came from, and the chart's counts."""

from __future__ import annotations

import datetime as dt

import pytest

from watchtower.digest.model import TierCounts
from watchtower.digest.select import (
    AlertFacts,
    Escalation,
    Placement,
    first_escalations,
    place_alerts,
    shown,
    shown_min_tier,
    tier_counts,
)

START, END = dt.date(2024, 6, 24), dt.date(2024, 6, 30)  # a weekly period


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def test_immediate_digests_show_red_only() -> None:
    assert shown_min_tier("immediate", "blue") == "red"
    assert shown_min_tier("daily", "yellow") == "yellow"
    assert shown_min_tier("weekly", "blue") == "blue"


@pytest.mark.parametrize(
    ("opened", "closed", "min_tier", "expected"),
    [
        (day(-30), None, "blue", True),  # open throughout
        (day(6), None, "blue", True),  # opened on the last day
        (day(7), None, "blue", False),  # opened after the period
        (day(-30), day(0), "blue", True),  # closed on the first day
        (day(-30), day(-1), "blue", False),  # closed before the period
        (day(-30), None, "orange", False),  # below the subscriber's tier
    ],
)
def test_shown_when_open_in_the_period_at_the_tier(
    opened: dt.date, closed: dt.date | None, min_tier: str, expected: bool
) -> None:
    assert shown(AlertFacts(1, "yellow", opened, closed), START, END, min_tier) is expected


def test_first_escalation_in_the_period_gives_the_previous_tier() -> None:
    events = [
        Escalation(1, day(-1), "blue", "yellow"),  # before the period
        Escalation(1, day(1), "yellow", "orange"),
        Escalation(1, day(3), "orange", "red"),
        Escalation(2, day(2), "blue", "orange"),
        Escalation(3, day(8), "blue", "red"),  # after the period
    ]
    assert first_escalations(events, START, END, "weekly") == {1: "yellow", 2: "blue"}
    # immediate digests: only an escalation to red counts
    assert first_escalations(events, START, END, "immediate") == {1: "orange"}


def test_sections() -> None:
    alerts = [
        AlertFacts(1, "red", day(-10), day(2)),  # closed in the period
        AlertFacts(2, "red", day(3), None),  # opened in it
        AlertFacts(3, "orange", day(-10), None),  # escalated in it
        AlertFacts(4, "yellow", day(-10), None),  # still open
        AlertFacts(5, "red", day(1), day(4)),  # opened and closed in it: resolved
    ]
    escalated = {3: "yellow"}
    assert place_alerts(alerts, escalated, START, END, "weekly") == [
        Placement(1, "resolved", None, True),
        Placement(2, "new", None, False),
        Placement(3, "escalated", "yellow", False),
        Placement(4, "open", None, False),
        Placement(5, "resolved", None, True),
    ]
    assert [p.section for p in place_alerts(alerts, escalated, START, END, "immediate")] == [
        "new",
        "escalated",
    ]


def test_a_daily_period_is_one_day() -> None:
    d = day(3)
    alerts = [AlertFacts(1, "red", d, None), AlertFacts(2, "red", day(2), None)]
    assert [p.section for p in place_alerts(alerts, {}, d, d, "daily")] == ["new", "open"]


def test_chart_counts_covered_managers_per_tier_and_day() -> None:
    rows = [
        (day(0), "P1", "red"),
        (day(0), "P2", "yellow"),
        (day(0), "P3", "red"),  # not covered
        (day(1), "P1", "orange"),
        (day(1), "P2", None),  # no tier
    ]
    chart = tier_counts(rows, [day(0), day(1)], lambda reg: reg != "P3")
    zero = {"red": 0, "orange": 0, "yellow": 0, "blue": 0}
    assert chart == [
        TierCounts(day(0), {**zero, "red": 1, "yellow": 1}),
        TierCounts(day(1), {**zero, "orange": 1}),
    ]
    assert tier_counts([], [day(0)], lambda reg: True) == [TierCounts(day(0), zero)]
