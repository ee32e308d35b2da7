"""The metric code on hand-made cases whose answers are known."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from watchtower.evaluate.metrics import (
    EvalConfig,
    benign_outlier_share,
    budget_matched_tiers,
    evaluate_method,
    false_alarm_rates,
    label_scores,
    precision_at_k,
    ranking_metrics,
    tier_counts,
    warning_metrics,
)

D0 = dt.date(2023, 1, 1)


def _month_ends(n: int, start: dt.date = D0) -> list[dt.date]:
    return [(pd.Timestamp(start) + pd.offsets.MonthEnd(i + 1)).date() for i in range(n)]


def _world(n_managers: int = 400, n_incidents: int = 60, seed: int = 1) -> pd.DataFrame:
    """Incidents spread over 2023-2025 for the first ``n_incidents`` managers."""
    rng = np.random.default_rng(seed)
    days = rng.integers(60, 3 * 365, size=n_incidents)
    return pd.DataFrame(
        {
            "register_no": [f"P{i:07d}" for i in range(n_incidents)],
            "incident_date": [D0 + dt.timedelta(days=int(d)) for d in days],
        }
    )


def _grid(dates: list[dt.date], n_managers: int) -> pd.DataFrame:
    regs = [f"P{i:07d}" for i in range(n_managers)]
    return pd.DataFrame([(d, r) for d in dates for r in regs], columns=["as_of", "register_no"])


# ---------------------------------------------------------------- labels


def test_label_window_is_open_closed_and_past_incidents_drop_out() -> None:
    inc = pd.DataFrame(
        {
            "register_no": ["A", "B", "C", "D"],
            "incident_date": [
                dt.date(2024, 1, 31),  # exactly D: already happened -> dropped
                dt.date(2024, 4, 30),  # D + 90 exactly -> positive at 90
                dt.date(2024, 5, 1),  # D + 91 -> negative at 90
                dt.date(2023, 6, 1),  # long before -> dropped
            ],
        }
    )
    scores = pd.DataFrame(
        {"as_of": [dt.date(2024, 1, 31)] * 5, "register_no": list("ABCDE"), "score": 1.0}
    )
    lab = label_scores(scores, inc, 90).set_index("register_no")
    assert set(lab.index) == {"B", "C", "E"}
    assert lab["label"].to_dict() == {"B": True, "C": False, "E": False}


def test_days_whose_horizon_is_not_observed_are_left_out() -> None:
    dates = _month_ends(12)
    scores = _grid(dates, 10).assign(score=0.5)
    inc = pd.DataFrame({"register_no": ["P0000001"], "incident_date": [dt.date(2023, 8, 15)]})
    r = ranking_metrics(scores, inc, 90, ks=(5,), observed_until=dt.date(2023, 12, 31))
    # D + 90 <= 2023-12-31  <=>  D <= 2023-10-02: January .. September.
    assert r.dates == 9
    assert list(r.per_date["as_of"])[-1] == dt.date(2023, 9, 30)


# ---------------------------------------------------------------- rankers


def test_perfect_ranker_has_auc_one_and_full_precision() -> None:
    dates = _month_ends(24)
    inc = _world()
    grid = _grid(dates, 400)
    lab = label_scores(grid.assign(score=0.0), inc, 180)
    scores = lab.assign(score=lab["label"].astype(float))[["as_of", "register_no", "score"]]
    r = ranking_metrics(scores, inc, 180, ks=(5,))
    assert r.dates == 24
    assert r.auc_roc == pytest.approx(1.0)
    assert r.auc_pr == pytest.approx(1.0)
    # Every day has >= 5 positives here? Check per day: precision = min(pos, 5) / 5.
    expected = (r.per_date["positives"].clip(upper=5) / 5).mean()
    assert r.precision_at[5] == pytest.approx(expected)
    assert r.precision_at[5] > 0.9


def test_random_ranker_is_near_one_half_and_base_rate() -> None:
    rng = np.random.default_rng(7)
    dates = _month_ends(12)
    inc = _world(n_incidents=300, seed=3)
    grid = _grid(dates, 3000)
    scores = grid.assign(score=rng.random(len(grid)))
    r = ranking_metrics(scores, inc, 365, ks=(100,))
    assert r.auc_roc == pytest.approx(0.5, abs=0.03)
    assert r.auc_pr == pytest.approx(r.base_rate, abs=0.02)
    assert r.precision_at[100] == pytest.approx(r.base_rate, abs=0.02)


def test_inverted_ranker_has_auc_zero() -> None:
    dates = _month_ends(6)
    inc = _world()
    lab = label_scores(_grid(dates, 400).assign(score=0.0), inc, 90)
    scores = lab.assign(score=-lab["label"].astype(float))[["as_of", "register_no", "score"]]
    assert ranking_metrics(scores, inc, 90).auc_roc == pytest.approx(0.0)


def test_precision_at_k_breaks_ties_in_expectation() -> None:
    s = np.array([3.0, 2.0, 2.0, 2.0, 1.0])
    y = np.array([1, 1, 0, 0, 0], dtype=bool)
    assert precision_at_k(s, y, 1) == 1.0
    assert precision_at_k(s, y, 2) == pytest.approx((1 + 1 / 3) / 2)
    assert precision_at_k(s, y, 4) == pytest.approx(2 / 4)
    assert precision_at_k(s, y, 50) == pytest.approx(2 / 5)  # k capped at n
    assert math.isnan(precision_at_k(np.array([]), np.array([], dtype=bool), 3))


# ---------------------------------------------------------------- warnings and lead time


def _daily(start: dt.date, days: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(days)]


def test_ranker_warning_exactly_100_days_early() -> None:
    dates = _daily(dt.date(2023, 1, 1), 730)
    incidents = pd.DataFrame(
        {
            "register_no": ["A", "B"],
            "incident_date": [dt.date(2024, 3, 1), dt.date(2024, 9, 1)],
        }
    )
    rows = []
    for reg, inc in zip(incidents["register_no"], incidents["incident_date"], strict=True):
        for d in dates:
            lead = (inc - d).days
            rows.append((d, reg, "yellow" if 0 < lead <= 100 else None))
    for d in dates:  # a quiet manager never warned
        rows.append((d, "C", None))
    tiers = pd.DataFrame(rows, columns=["as_of", "register_no", "tier"])
    w = warning_metrics(tiers, incidents, dates, min_lead=90, lookback=365)
    assert w.eligible == 2
    assert list(w.incidents["lead_yellow"]) == [100.0, 100.0]
    assert w.recall["yellow"] == 1.0
    assert w.median_lead["yellow"] == 100.0
    assert w.recall["orange"] == 0.0  # never orange
    assert math.isnan(w.median_lead["orange"])
    # At a 120-day requirement the same warnings come too late.
    late = warning_metrics(tiers, incidents, dates, min_lead=120, lookback=365)
    assert late.recall["yellow"] == 0.0


def test_warnings_older_than_the_lookback_or_higher_tiers_count_correctly() -> None:
    dates = _month_ends(36, dt.date(2022, 1, 1))
    inc = pd.DataFrame({"register_no": ["A"], "incident_date": [dt.date(2024, 6, 15)]})
    tiers = pd.DataFrame(
        {
            "as_of": [dt.date(2022, 3, 31), dt.date(2024, 1, 31), dt.date(2024, 2, 29)],
            "register_no": ["A", "A", "A"],
            "tier": ["red", "orange", "red"],  # the 2022 red is > 365 days before: ignored
        }
    )
    w = warning_metrics(tiers, inc, dates)
    assert w.incidents.loc[0, "lead_yellow"] == (dt.date(2024, 6, 15) - dt.date(2024, 1, 31)).days
    assert w.recall == {"yellow": 1.0, "orange": 1.0}


def test_incident_without_a_backtest_day_in_its_window_is_not_eligible() -> None:
    dates = _month_ends(3)  # Jan..Mar 2023
    inc = pd.DataFrame(
        {"register_no": ["A", "B"], "incident_date": [dt.date(2023, 2, 15), dt.date(2023, 6, 1)]}
    )
    tiers = pd.DataFrame({"as_of": dates, "register_no": "B", "tier": "orange"})
    w = warning_metrics(tiers, inc, dates)
    assert w.eligible == 1  # A: no day 90+ days before it
    assert w.recall["orange"] == 1.0


# ---------------------------------------------------------------- false alarms, benign, tiers


def test_false_alarm_rate_per_tier() -> None:
    d = dt.date(2023, 3, 31)
    tiers = pd.DataFrame(
        {
            "as_of": [d] * 6,
            "register_no": list("ABCDEF"),
            "tier": ["red", "red", "orange", "yellow", "yellow", None],
        }
    )
    inc = pd.DataFrame(
        {"register_no": ["A", "D"], "incident_date": [dt.date(2023, 9, 1), dt.date(2025, 1, 1)]}
    )
    fa = false_alarm_rates(tiers, inc, horizon=365, observed_until=dt.date(2024, 12, 31))
    assert fa["red"] == {"pairs": 2, "false_alarm_rate": 0.5}
    assert fa["orange"] == {"pairs": 1, "false_alarm_rate": 1.0}
    assert fa["yellow"] == {"pairs": 2, "false_alarm_rate": 1.0}  # D's incident is too late
    assert fa["blue"]["pairs"] == 0 and math.isnan(fa["blue"]["false_alarm_rate"])


def test_benign_outlier_share_of_the_top_five_percent() -> None:
    d = dt.date(2024, 1, 31)
    regs = [f"M{i:03d}" for i in range(100)]
    scores = pd.DataFrame({"as_of": d, "register_no": regs, "score": np.arange(100.0)})
    benign = ["M099", "M098", "M010", "M011"]  # two in the top 5, two far below
    b = benign_outlier_share(scores, benign, 0.05)
    assert b["benign_share_of_top"] == pytest.approx(2 / 5)
    assert b["benign_in_top"] == pytest.approx(2 / 4)


def test_budget_matched_tiers_copy_the_reference_counts() -> None:
    d = dt.date(2024, 1, 31)
    ref = pd.DataFrame(
        {"as_of": d, "register_no": list("ABCDE"), "tier": ["red", "yellow", "yellow", None, None]}
    )
    other = pd.DataFrame({"as_of": d, "register_no": list("ABCDE"), "score": [1, 5, 4, 3, 2]})
    t = budget_matched_tiers(ref, other).set_index("register_no")["tier"].fillna("-")
    assert t.to_dict() == {"B": "red", "C": "yellow", "D": "yellow", "E": "-", "A": "-"}
    counts = tier_counts(budget_matched_tiers(ref, other))
    assert counts.loc[pd.Timestamp(d)].to_dict() == {"red": 1, "orange": 0, "yellow": 2, "blue": 0}


def test_evaluate_method_bundles_everything_and_serializes() -> None:
    import json

    dates = _month_ends(24)
    inc = _world()
    lab = label_scores(_grid(dates, 400).assign(score=0.0), inc, 365)
    scores = lab.assign(score=lab["label"].astype(float))[["as_of", "register_no", "score"]]
    # numpy's stubs omit None as a choice of ``where``; numpy takes it (an object array).
    tiers = scores.assign(tier=np.where(scores["score"] > 0, "orange", None))  # type: ignore[call-overload]
    res = evaluate_method(
        "perfect",
        scores,
        tiers,
        inc,
        config=EvalConfig(),
        observed_until=dt.date(2025, 12, 31),
        benign=["P0000399"],
    )
    assert res.ranking[365].auc_roc == pytest.approx(1.0)
    assert res.false_alarms[365]["orange"]["false_alarm_rate"] == 0.0
    assert res.warning.recall["orange"] == 1.0
    assert res.benign is not None and res.benign["benign_in_top"] == 0.0
    json.dumps(res.as_dict(), allow_nan=False)
