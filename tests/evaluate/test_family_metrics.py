"""Known answers for the per-family, per-kind and orange-and-above figures."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from watchtower.evaluate.labels import benign_kinds, incident_families
from watchtower.evaluate.metrics import (
    EvalConfig,
    benign_kind_shares,
    evaluate_method,
    false_alarms_at_or_above,
    recall_by_family,
    top_membership,
    top_share_recall,
    warning_metrics,
)

Q = [dt.date(2023, 3, 31), dt.date(2023, 6, 30), dt.date(2023, 9, 30), dt.date(2023, 12, 31)]


def _scores(values: dict[str, list[float]], days: list[dt.date] = Q) -> pd.DataFrame:
    rows = [(d, reg, v[i]) for reg, v in values.items() for i, d in enumerate(days)]
    return pd.DataFrame(rows, columns=["as_of", "register_no", "score"])


def _twenty(hot: dict[str, list[float]]) -> pd.DataFrame:
    """20 managers a day (top 5% = exactly one): ``hot`` ones with their scores, the
    others at 1..(20 - len(hot)) on every day."""
    calm = {f"N{i:02d}": [float(i + 1)] * len(Q) for i in range(20 - len(hot))}
    return _scores({**calm, **hot})


def test_false_alarms_at_or_above_count_red_and_orange_together() -> None:
    d = dt.date(2023, 1, 31)
    tiers = pd.DataFrame(
        {
            "as_of": [d] * 5,
            "register_no": ["A", "B", "C", "D", "E"],
            "tier": ["red", "orange", "orange", "yellow", None],
        }
    )
    inc = pd.DataFrame({"register_no": ["A", "D"], "incident_date": [dt.date(2023, 6, 1)] * 2})
    out = false_alarms_at_or_above(tiers, inc, "orange", 365)
    assert out == {"pairs": 3, "false_alarm_rate": pytest.approx(2 / 3)}  # B, C false; A true
    # at >= yellow the yellow manager D (an incident) joins: 2 false of 4
    assert false_alarms_at_or_above(tiers, inc, "yellow", 365)["false_alarm_rate"] == 0.5
    # the horizon is not fully observed: no pairs
    late = false_alarms_at_or_above(tiers, inc, "orange", 365, observed_until=dt.date(2023, 12, 1))
    assert late["pairs"] == 0 and math.isnan(late["false_alarm_rate"])


def test_top_membership_breaks_ties_in_expectation() -> None:
    # 40 managers: k = 2; one above the cut, three tied at it -> each tied one 1/3
    vals = {f"M{i:02d}": [0.0] for i in range(36)}
    vals |= {"TOP": [9.0], "T1": [5.0], "T2": [5.0], "T3": [5.0]}
    top = top_membership(_scores(vals, Q[:1]), 0.05).set_index("register_no")["p_top"]
    assert top["TOP"] == 1.0
    assert top[["T1", "T2", "T3"]].tolist() == pytest.approx([1 / 3] * 3)
    assert top.sum() == pytest.approx(2.0) and top["M00"] == 0.0


def test_top_share_recall_counts_the_year_before_the_incident_only() -> None:
    # R1 tops the list on 2023-06-30, 200 days before its incident: caught. R2 tops it only
    # on 2023-03-31, 401 days before its incident (outside the 365-day lookback): missed.
    # R3 is never on top. R4's incident has no backtest day in its year before: not eligible.
    scores = _twenty(
        {
            "R1": [0, 99, 0, 0],
            "R2": [99, 0, 0, 0],
            "R3": [0, 0, 0, 0],
        }
    )
    inc = pd.DataFrame(
        {
            "register_no": ["R1", "R2", "R3", "R4"],
            "incident_date": [
                dt.date(2024, 1, 16),
                dt.date(2024, 5, 5),
                dt.date(2024, 2, 1),
                dt.date(2026, 1, 1),
            ],
        }
    )
    r = top_share_recall(scores, inc, top_share=0.05, lookback=365)
    per = r.incidents.set_index("register_no")
    assert per.loc["R1", "p_reached"] == 1.0
    assert per.loc["R2", "p_reached"] == 0.0  # only 400 days ahead
    assert per.loc["R3", "p_reached"] == 0.0
    assert not per.loc["R4", "eligible"]
    assert r.eligible == 3 and r.recall == pytest.approx(1 / 3)
    # an incident after the observation end is left out
    cut = top_share_recall(scores, inc, observed_until=dt.date(2024, 3, 1))
    assert cut.eligible == 2 and cut.recall == pytest.approx(0.5)


def test_top_share_recall_with_ties_is_the_chance_of_reaching_the_top() -> None:
    # 20 managers, k = 1: on two days R ties with one other at the top (1/2 each day):
    # chance of being on top at least once = 1 - (1/2)^2 = 3/4
    scores = _scores(
        {
            **{f"N{i:02d}": [0.0, 0.0] for i in range(18)},
            "R": [5.0, 5.0],
            "X": [5.0, 5.0],
        },
        Q[:2],
    )
    inc = pd.DataFrame({"register_no": ["R"], "incident_date": [dt.date(2023, 9, 1)]})
    assert top_share_recall(scores, inc).recall == pytest.approx(0.75)


def test_a_manager_not_scored_in_its_year_is_a_miss() -> None:
    scores = _twenty({"R1": [99, 0, 0, 0]})
    inc = pd.DataFrame({"register_no": ["R1", "GHOST"], "incident_date": [dt.date(2023, 5, 1)] * 2})
    r = top_share_recall(scores, inc)
    assert r.eligible == 2 and r.recall == 0.5


def _warned(tiers: dict[str, list[str | None]]) -> pd.DataFrame:
    rows = [(d, reg, t[i]) for reg, t in tiers.items() for i, d in enumerate(Q)]
    return pd.DataFrame(rows, columns=["as_of", "register_no", "tier"])


def test_recall_by_family_splits_both_recalls_by_the_truths_family() -> None:
    inc = pd.DataFrame(
        {
            "register_no": ["L1", "L2", "F1", "Z1"],
            "incident_date": [dt.date(2024, 1, 31)] * 4,
        }
    )
    # L1 orange 215 days ahead (2023-06-30), L2 orange only 31 days ahead, F1 red 306 days
    # ahead; Z1 (not in the truth) never warned
    tiers = _warned(
        {
            "L1": [None, "orange", "orange", "orange"],
            "L2": ["yellow", "yellow", "yellow", "orange"],
            "F1": ["red", None, None, None],
            "Z1": [None, None, None, None],
        }
    )
    warning = warning_metrics(tiers, inc, Q, warn_tiers=("yellow", "orange"))
    scores = _twenty({"L1": [0, 0, 0, 99], "L2": [0, 0, 0, 0], "F1": [99, 0, 0, 0], "Z1": [0] * 4})
    top = top_share_recall(scores, inc)
    fams = recall_by_family(
        warning, top, {"L1": "liquidity", "L2": "liquidity", "F1": "fraud"}, "orange"
    )
    assert fams["liquidity"] == {
        "incidents": 2,
        "eligible_warning": 2,
        "recall_at_min_lead": 0.5,
        "eligible_top": 2,
        "top_share_recall": 0.5,
    }
    assert fams["fraud"]["recall_at_min_lead"] == 1.0
    assert fams["fraud"]["top_share_recall"] == 1.0
    assert fams["other"]["incidents"] == 1 and fams["other"]["recall_at_min_lead"] == 0.0
    with pytest.raises(ValueError, match="not among the warning tiers"):
        recall_by_family(warning, top, {}, "red")


def test_benign_kind_shares_of_the_top_and_own_rates() -> None:
    # 20 managers a day, top 5% = 1. Day 1: a giant G1 on top; day 2: newcomer N1 on top;
    # days 3-4: a risky manager. G2 never on top.
    scores = _twenty(
        {
            "G1": [99, 0, 0, 0],
            "G2": [0, 0, 0, 0],
            "NEW": [0, 99, 0, 0],
            "R": [0, 0, 99, 99],
        }
    )
    kinds = benign_kind_shares(
        scores, {"G1": "large_firm", "G2": "large_firm", "NEW": "new_manager"}, 0.05
    )
    assert kinds["large_firm"]["managers"] == 2
    assert kinds["large_firm"]["share_of_top"] == pytest.approx(0.25)  # 1 of 4 days
    assert kinds["large_firm"]["in_top"] == pytest.approx(0.5 / 4)  # 1 of 2 giants on 1 day
    assert kinds["new_manager"]["share_of_top"] == pytest.approx(0.25)
    assert kinds["new_manager"]["in_top"] == pytest.approx(0.25)


def test_a_kind_scored_on_some_days_only_is_rated_on_those_days() -> None:
    scores = _twenty({"NEW": [99, 0, 0, 0]})
    scores = scores[~((scores["register_no"] == "NEW") & (scores["as_of"] != Q[0]))]
    kinds = benign_kind_shares(scores, {"NEW": "new_manager"}, 0.05)
    assert kinds["new_manager"]["in_top"] == 1.0  # on top on the one day it is scored
    assert kinds["new_manager"]["share_of_top"] == pytest.approx(0.25)


def test_truth_maps_families_of_risky_and_kinds_of_benign() -> None:
    truth = pd.DataFrame(
        {
            "register_no": ["A", "B", "C"],
            "scenario": ["run_off", "large_firm", "healthy"],
            "family": ["liquidity", "benign_size", "noise_news"],
            "is_risky": [True, False, False],
            "is_benign_outlier": [False, True, False],
        }
    )
    assert incident_families(truth) == {"A": "liquidity"}
    assert benign_kinds(truth) == {"B": "large_firm"}


def test_evaluate_method_carries_the_new_figures_into_its_json() -> None:
    inc = pd.DataFrame({"register_no": ["R"], "incident_date": [dt.date(2024, 1, 31)]})
    scores = _twenty({"R": [0, 99, 99, 99], "G": [99, 0, 0, 0]})
    tiers = scores.assign(tier=[("orange" if s == 99 else None) for s in scores["score"]])
    res = evaluate_method(
        "m",
        scores,
        tiers[["as_of", "register_no", "tier"]],
        inc,
        config=EvalConfig(),
        incident_family={"R": "liquidity"},
        benign_kind={"G": "large_firm"},
    )
    out = res.as_dict()
    assert out["per_family"]["liquidity"]["recall_at_min_lead"] == 1.0
    assert out["top_share_recall"]["recall"] == 1.0
    assert out["per_benign_kind"]["large_firm"]["share_of_top"] == 0.25
    # 4 orange pairs: G's (no incident) is false, R's three lead to its incident
    assert out["false_alarms_at_or_above"] == {"pairs": 4, "false_alarm_rate": 0.25}
