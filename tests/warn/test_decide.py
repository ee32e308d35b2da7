"""The warn stage's decisions on plain data (no database): a day's tier rows, and the alert
lifecycle's changes (open, refresh, escalate, de-escalate, resolve) with their notes."""

from __future__ import annotations

import dataclasses
import datetime as dt

from watchtower.warn.decide import (
    AlertState,
    Deescalate,
    Escalate,
    FalsePositive,
    OpenAlert,
    Refresh,
    Resolve,
    ReviseTier,
    ScoredManager,
    Signal,
    StoredTier,
    TierRow,
    decide_day_tiers,
    decide_lifecycle,
    snooze_since,
    snoozed_ranks,
    why,
)
from watchtower.warn.policy import TierPolicy
from watchtower.warn.tiers import PreviousTier

POLICY = TierPolicy(
    version="t",
    thresholds={"red": 85, "orange": 70, "yellow": 55, "blue": 40},
    margin=5,
    down_runs=2,
    overrides={"blacklist": "red"},
    quiet_days=14,
    false_positive_snooze_days=30,
)
D = dt.date(2024, 6, 20)


def scored(reg: str, score: float, *hits: str) -> ScoredManager:
    return ScoredManager(reg, f"{reg} 公司", "广东", "广州", score, hits, ())


def signal(reg: str, score: float, tier: str | None, *hits: str) -> Signal:
    return Signal(reg, f"{reg} 公司", "广东", "广州", score, tier, list(hits), [])


def alert(
    reg: str,
    tier: str,
    *,
    id: int = 1,
    status: str = "new",
    peak: str | None = None,
    score: float = 50.0,
    last: dt.date = D - dt.timedelta(days=1),
    signal_day: dt.date | None = None,
) -> AlertState:
    return AlertState(
        id, reg, status, tier, peak or tier, score, last, last if signal_day is None else signal_day
    )


# --- tiers of a day --------------------------------------------------------------------------


def test_day_tiers_of_a_first_run_are_all_new_with_signals_in_score_order() -> None:
    day = decide_day_tiers(
        [scored("P1", 90), scored("P2", 60), scored("P3", 5, "blacklist"), scored("P4", 10)],
        stored={},
        previous={},
        policy=POLICY,
    )
    assert [(r.register_no, r.raw_tier, r.floor_tier, r.tier) for r in day.new] == [
        ("P1", "red", None, "red"),
        ("P2", "yellow", None, "yellow"),
        ("P3", None, "red", "red"),
        ("P4", None, None, None),
    ]
    assert day.revised == [] and not day.rerun and day.held == 0
    assert day.tier_counts == {"red": 2, "orange": 0, "yellow": 1, "blue": 0}
    assert [(s.register_no, s.tier, list(s.rule_hits)) for s in day.signals] == [
        ("P1", "red", []),
        ("P2", "yellow", []),
        ("P3", "red", ["blacklist"]),
        ("P4", None, []),
    ]


def test_day_tiers_carry_hysteresis_from_the_previous_state() -> None:
    day = decide_day_tiers(
        [scored("P1", 60)], stored={}, previous={"P1": PreviousTier("orange")}, policy=POLICY
    )
    (row,) = day.new
    assert (row.tier, row.raw_tier, row.down_streak, day.held) == ("orange", "yellow", 1, 1)
    assert day.signals[0].tier == "orange"


def _stored(row: TierRow, id: int) -> StoredTier:
    return StoredTier(id, row.score, row.raw_tier, row.floor_tier, row.tier, row.down_streak)


def test_a_rerun_of_an_unchanged_day_writes_nothing() -> None:
    scores = [scored("P1", 90), scored("P2", 10)]
    first = decide_day_tiers(scores, {}, {}, POLICY)
    stored = {r.register_no: _stored(r, i) for i, r in enumerate(first.new, 1)}
    again = decide_day_tiers(scores, stored, {}, POLICY)
    assert (again.new, again.revised, again.rerun) == ([], [], True)
    assert again.signals == first.signals and again.tier_counts == first.tier_counts


def test_a_rerun_after_a_score_changed_revises_that_row_only() -> None:
    first = decide_day_tiers([scored("P1", 90), scored("P2", 10)], {}, {}, POLICY)
    stored = {r.register_no: _stored(r, i) for i, r in enumerate(first.new, 1)}
    again = decide_day_tiers([scored("P1", 90), scored("P2", 95)], stored, {}, POLICY)
    assert again.new == [] and not again.rerun
    (rev,) = again.revised
    assert rev == ReviseTier(2, first.new[1]._replace(score=95, raw_tier="red", tier="red"))


def test_a_manager_new_to_a_tiered_day_gets_a_new_row() -> None:
    first = decide_day_tiers([scored("P1", 90)], {}, {}, POLICY)
    stored = {"P1": _stored(first.new[0], 1)}
    again = decide_day_tiers([scored("P1", 90), scored("P2", 50)], stored, {}, POLICY)
    assert [r.register_no for r in again.new] == ["P2"] and not again.rerun


# --- lifecycle -------------------------------------------------------------------------------


def test_opens_an_alert_at_or_above_the_minimum_tier_only() -> None:
    signals = [signal("P1", 90, "red"), signal("P2", 45, "blue"), signal("P3", 10, None)]
    changes = decide_lifecycle({}, signals, D, POLICY)
    assert changes == [OpenAlert(signals[0]), OpenAlert(signals[1])]
    strict = dataclasses.replace(POLICY, min_tier="yellow")
    assert decide_lifecycle({}, signals, D, strict) == [OpenAlert(signals[0])]


def test_escalate_deescalate_and_refresh() -> None:
    current = {
        "P1": alert("P1", "yellow", id=1),
        "P2": alert("P2", "red", id=2, peak="red"),
        "P3": alert("P3", "orange", id=3),
        "P4": alert("P4", "blue", id=4),
    }
    s1, s2, s3, s4 = (
        signal("P1", 90, "red"),
        signal("P2", 60, "yellow"),
        signal("P3", 72, "orange"),
        signal("P4", 10, None),
    )
    assert decide_lifecycle(current, [s1, s2, s3, s4], D, POLICY) == [
        Escalate(current["P1"], s1, peak_tier="red"),
        Deescalate(current["P2"], s2, peak_tier="red"),  # the peak stays
        Refresh(current["P3"], s3, alerting=True),
        Refresh(current["P4"], s4, alerting=False),
    ]


def test_a_replay_of_an_older_day_never_rewinds_a_newer_state() -> None:
    current = {"P1": alert("P1", "red", last=D + dt.timedelta(days=3))}
    assert decide_lifecycle(current, [signal("P1", 45, "blue")], D, POLICY) == []


def test_deciding_again_on_the_result_changes_no_tier() -> None:
    s = signal("P1", 90, "red")
    (esc,) = decide_lifecycle({"P1": alert("P1", "yellow")}, [s], D, POLICY)
    assert isinstance(esc, Escalate)
    after = alert("P1", "red", peak="red", score=90, last=D)
    assert decide_lifecycle({"P1": after}, [s], D, POLICY) == [Refresh(after, s, alerting=True)]


def test_false_positive_snooze_allows_only_a_higher_tier() -> None:
    fps = [
        FalsePositive("P1", "orange", D - dt.timedelta(days=2)),
        FalsePositive("P1", "yellow", D - dt.timedelta(days=1)),
        FalsePositive("P2", "red", D - dt.timedelta(days=31)),  # outside the window
        FalsePositive("P3", "red", D + dt.timedelta(days=1)),  # after the day
    ]
    snoozed = snoozed_ranks(fps, D, POLICY)
    assert snoozed == {"P1": 3}
    signals = [signal("P1", 72, "orange"), signal("P2", 90, "red"), signal("P3", 90, "red")]
    assert decide_lifecycle({}, signals, D, POLICY, snoozed) == [
        OpenAlert(signals[1]),
        OpenAlert(signals[2]),
    ]
    worse = signal("P1", 90, "red")
    assert decide_lifecycle({}, [worse], D, POLICY, snoozed) == [OpenAlert(worse)]
    off = dataclasses.replace(POLICY, false_positive_snooze_days=0)
    assert snooze_since(D, off) is None and snoozed_ranks(fps, D, off) == {}
    assert snooze_since(D, POLICY) == D - dt.timedelta(days=30)


def test_quiet_alerts_resolve_after_the_period_in_allowed_statuses_only() -> None:
    quiet = D - dt.timedelta(days=14)
    current = {
        "P1": alert("P1", "blue", id=1, signal_day=quiet),
        "P2": alert("P2", "blue", id=2, signal_day=quiet + dt.timedelta(days=1)),  # 13 days
        "P3": alert("P3", "blue", id=3, status="investigating", signal_day=quiet),
        "P4": alert("P4", "blue", id=4, status="acknowledged", signal_day=quiet),
    }
    changes = decide_lifecycle(current, [], D, POLICY)
    assert changes == [Resolve(current["P1"], 14, 14), Resolve(current["P4"], 14, 14)]
    first = changes[0]
    assert isinstance(first, Resolve)
    assert first.note == "resolved: quiet 14 days (period 14); 连续14天未达预警等级,自动解除"


def test_resolve_sees_todays_refresh_and_not_alerts_signalled_today() -> None:
    quiet = D - dt.timedelta(days=20)
    current = {
        "P1": alert("P1", "blue", id=1, score=45, signal_day=quiet),
        "P2": alert("P2", "blue", id=2, score=45, signal_day=quiet),
    }
    below, again = signal("P1", 12, None), signal("P2", 41, "blue")
    changes = decide_lifecycle(current, [below, again], D, POLICY)
    refreshed = current["P1"]._replace(score=12, last_as_of=D)
    assert changes == [
        Refresh(current["P1"], below, alerting=False),
        Refresh(current["P2"], again, alerting=True),
        Resolve(refreshed, 20, 14),  # audited with today's score
    ]


def test_why_names_the_score_and_rules() -> None:
    assert why(signal("P1", 88.04, "red", "blacklist", "lost_contact")) == (
        "score 88.0; rules: blacklist, lost_contact"
    )
    assert why(signal("P1", 50, "yellow")) == "score 50.0; rules: -"
