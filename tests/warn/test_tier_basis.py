"""Tiers by probability or by an alert budget (models/tiers.yaml ``basis``): known answers of
the pure day-threshold decision, the policy's validation, and the warn step reading the
stored probabilities."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
from pathlib import Path

import pytest

from tests.warn.scores import NOW, insert_scores, score_row
from watchtower.store import open_store
from watchtower.warn import run_warn
from watchtower.warn.decide import ScoredManager, decide_day_tiers
from watchtower.warn.policy import PolicyError, TierPolicy, load_policy
from watchtower.warn.tiers import PreviousTier, day_thresholds

MODELS = Path(__file__).resolve().parents[2] / "models"
SCORE = {"red": 85.0, "orange": 70.0, "yellow": 55.0, "blue": 40.0}


def policy(**kw: object) -> TierPolicy:
    return TierPolicy(version="t", thresholds=SCORE, **kw)  # type: ignore[arg-type]


def scored(scores: list[float], probs: list[float | None] | None = None) -> list[ScoredManager]:
    probs = probs or [None] * len(scores)
    return [
        ScoredManager(f"M{i:03d}", None, None, None, s, probability=p)
        for i, (s, p) in enumerate(zip(scores, probs, strict=True))
    ]


def tiers_of(day_scores: list[ScoredManager], pol: TierPolicy) -> dict[str, str | None]:
    day = decide_day_tiers(day_scores, {}, {}, pol)
    return {r.register_no: r.tier for r in day.new}


def test_score_basis_is_the_policy_thresholds() -> None:
    d = day_thresholds([10, 90], [None, None], policy())
    assert (dict(d.thresholds), d.applied, d.note) == (SCORE, "score", "")


def test_budget_takes_at_most_its_share_from_the_top() -> None:
    pol = policy(basis="budget", budget={"red": 0.1, "orange": 0.3}, budget_min_score=20)
    scores = [float(s) for s in range(100, 0, -10)]  # 100, 90, ..., 10: ten managers
    d = day_thresholds(scores, [None] * 10, pol)
    assert d.thresholds["red"] == 100 and d.thresholds["orange"] == 80
    assert d.thresholds["yellow"] == 55 and d.budget_counts == {"red": 1, "orange": 3}
    got = tiers_of(scored(scores), pol)
    # yellow and blue are not budgeted: they keep their score thresholds (55, 40)
    assert [got[f"M{i:03d}"] for i in range(10)] == [
        "red",
        "orange",
        "orange",
        "yellow",
        "yellow",
        "blue",
        "blue",
        None,
        None,
        None,
    ]


def test_a_tie_straddling_the_budget_cut_is_left_out_whole() -> None:
    pol = policy(basis="budget", budget={"red": 0.2, "orange": 0.4}, budget_min_score=0)
    scores = [90.0, 80.0, 80.0, 70.0, 60.0, 60.0, 50.0, 40.0, 30.0, 20.0]
    d = day_thresholds(scores, [None] * 10, pol)
    assert d.thresholds["red"] == 90  # two places, but 80 is tied at the second: out
    assert d.thresholds["orange"] == 70  # four places: 90, 80, 80, 70
    only_ties = day_thresholds([50.0] * 10, [None] * 10, pol)
    assert math.isinf(only_ties.thresholds["red"])  # nobody can be singled out


def test_budget_never_goes_below_its_minimum_score() -> None:
    pol = policy(basis="budget", budget={"red": 0.5}, budget_min_score=60)
    d = day_thresholds([70.0, 50.0, 30.0, 10.0], [None] * 4, pol)
    assert d.thresholds["red"] == 60
    got = tiers_of(scored([70.0, 50.0, 30.0, 10.0]), pol)
    assert (got["M000"], got["M001"]) == ("red", "blue")  # 50: not red, blue by its score


def test_rule_floors_and_hysteresis_come_on_top_of_the_budget() -> None:
    pol = policy(basis="budget", budget={"red": 0.1, "orange": 0.1}, budget_min_score=0)
    day = scored([90.0, 80.0, 10.0] + [5.0] * 7)
    day[2] = day[2]._replace(rule_hits=["blacklist"])
    pol = dataclasses.replace(pol, overrides={"blacklist": "red"})
    prev = {"M001": PreviousTier("orange", 0)}
    rows = {r.register_no: r.tier for r in decide_day_tiers(day, {}, prev, pol).new}
    assert rows["M000"] == "red" and rows["M002"] == "red"  # the floor, over budget
    # 80 is below the day's orange cut (90) minus the margin: the first run down is held
    assert rows["M001"] == "orange"


def test_probability_thresholds_become_the_lowest_score_reaching_them() -> None:
    pol = policy(
        basis="probability",
        probability_thresholds={"red": 0.5, "orange": 0.3, "yellow": 0.15, "blue": 0.05},
    )
    scores = [80.0, 60.0, 50.0, 40.0, 20.0]
    probs: list[float | None] = [0.6, 0.3, 0.3, 0.1, 0.01]
    d = day_thresholds(scores, probs, pol)
    assert d.applied == "probability"
    assert d.thresholds == {"red": 80.0, "orange": 50.0, "yellow": 50.0, "blue": 40.0}
    got = tiers_of(scored(scores, probs), pol)
    assert list(got.values()) == ["red", "orange", "orange", "blue", None]


def test_a_day_without_probabilities_falls_back_to_the_score_and_says_so() -> None:
    pol = policy(
        basis="probability",
        probability_thresholds={"red": 0.5, "orange": 0.3, "yellow": 0.15, "blue": 0.05},
    )
    d = day_thresholds([90.0, 10.0], [None, None], pol)
    assert d.applied == "score" and dict(d.thresholds) == SCORE and "score thresholds" in d.note


def test_a_probability_nobody_reaches_makes_the_tier_unreachable() -> None:
    pol = policy(
        basis="probability",
        probability_thresholds={"red": 0.9, "orange": 0.3, "yellow": 0.15, "blue": 0.05},
    )
    d = day_thresholds([80.0, 10.0], [0.4, 0.01], pol)
    assert math.isinf(d.thresholds["red"]) and d.thresholds["orange"] == 80.0


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"basis": "rank"}, "basis"),
        ({"basis": "probability"}, "probability_thresholds must name"),
        ({"probability_thresholds": {"red": 0.2, "orange": 0.3}}, "strictly decrease"),
        ({"probability_thresholds": {"red": 1.5}}, "(0, 1]"),
        ({"basis": "budget"}, "needs a budget"),
        ({"budget": {"red": 0.1, "orange": 0.05}}, "cumulative"),
        ({"budget": {"purple": 0.1}}, "unknown tier"),
        ({"budget": {"red": 0.1}, "budget_min_score": 120}, "min_score"),
    ],
)
def test_a_bad_basis_is_refused_naming_what(kw: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace("]", r"\]")):
        policy(**kw)


def test_the_file_sets_the_basis_and_min_score_defaults_to_blue(tmp_path: Path) -> None:
    shutil.copytree(MODELS, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "tiers.yaml"
    text = path.read_text(encoding="utf-8").replace("basis: score", "basis: budget")
    path.write_text(text.replace("  min_score: 40\n", ""), encoding="utf-8")
    pol = load_policy(tmp_path)
    assert pol.basis == "budget" and pol.budget_min_score == pol.thresholds["blue"]
    path.write_text(text.replace("  min_score: 40", "  min_scor: 40"), encoding="utf-8")
    with pytest.raises(PolicyError, match="min_scor"):
        load_policy(tmp_path)
    path.write_text(text.replace("  orange: 0.05", "  orange: 0.005"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"tiers\.yaml: budget shares .* cumulative"):
        load_policy(tmp_path)  # a value the policy refuses names the file too


def test_the_warn_step_tiers_by_the_stored_probabilities(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    day = dt.date(2024, 6, 30)
    probs = {"P001": 0.6, "P002": 0.35, "P003": 0.02}
    rows = []
    for reg, p in probs.items():
        row = score_row(reg, 50.0 + 10 * p, as_of=day)  # every score is below orange (70)
        rows.append({**row, "probability_12m": p})
    insert_scores(engine, rows)
    pol = policy(
        basis="probability",
        probability_thresholds={"red": 0.5, "orange": 0.3, "yellow": 0.15, "blue": 0.05},
    )
    summary = run_warn(engine, day, pol, NOW)
    assert summary.basis == "probability"
    assert summary.tiers == {"red": 1, "orange": 1, "yellow": 0, "blue": 0}
    assert summary.thresholds == {"red": 56.0, "orange": 53.5, "yellow": 53.5, "blue": 53.5}
