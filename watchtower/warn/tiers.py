"""Tier assignment: a pure function of today's score and the manager's previous tier, under
the day's thresholds (:func:`day_thresholds`: the policy's basis applied to the day's scores)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchtower.store.alerts import TIERS
from watchtower.warn.policy import TierPolicy, higher, rank


@dataclass(frozen=True)
class PreviousTier:
    """A manager's state after its latest earlier run (a ``manager_tiers`` row)."""

    tier: str | None
    down_streak: int = 0


@dataclass(frozen=True)
class TierDecision:
    """Today's tier. ``raw_tier`` from the score alone, ``floor_tier`` from rule overrides,
    ``tier`` after hysteresis (None = below every threshold: no alert); ``down_streak`` counts
    consecutive runs below the current tier's band (carried to tomorrow)."""

    tier: str | None
    raw_tier: str | None
    floor_tier: str | None
    down_streak: int
    held: bool  # True when hysteresis kept a higher tier than today's candidate


#: A threshold no score reaches (a tier nobody may enter on the day).
UNREACHABLE = math.inf


@dataclass(frozen=True)
class DayThresholds:
    """The score thresholds of one day and how they were found: ``basis`` is the policy's,
    ``applied`` what was used (``score`` when a probability basis had no probabilities that
    day), ``note`` a sentence for the summary when they differ."""

    thresholds: Mapping[str, float]
    basis: str
    applied: str
    note: str = ""
    budget_counts: Mapping[str, int] = field(default_factory=dict)


def _cut_for_count(ordered: Sequence[float], k: int) -> float:
    """The lowest score s with at most ``k`` of the (descending) ``ordered`` scores >= s:
    a tie straddling the k-th place is left out whole, so the budget is never exceeded."""
    if k <= 0 or not ordered:
        return UNREACHABLE
    if k >= len(ordered):
        return ordered[-1]
    kth, nxt = ordered[k - 1], ordered[k]
    if kth > nxt:
        return kth
    above = [v for v in ordered[:k] if v > kth]  # the tie at the cut is out
    return above[-1] if above else UNREACHABLE


def day_thresholds(
    scores: Sequence[float], probabilities: Sequence[float | None], policy: TierPolicy
) -> DayThresholds:
    """The day's score thresholds under ``policy.basis``, from the day's scored managers.

    - ``score``: the policy's thresholds.
    - ``probability``: tier T's threshold is the lowest score of the day whose calibrated
      probability reaches ``probability_thresholds[T]`` (unreachable when none does); a day
      with no probability at all (too few past incidents to calibrate) uses the score
      thresholds and says so.
    - ``budget``: tier T (named in ``budget``) is reached by at most ``budget[T]`` of the
      day's managers, the highest scores (cumulative: red and orange together for orange;
      a tie at the cut is left out whole), and never below ``budget_min_score``; tiers the
      budget does not name keep their score threshold.

    Rule floors and hysteresis come on top (:func:`assign_tier`), so a blacklisted manager is
    red whatever the budget, and a manager held up by hysteresis may exceed it.
    """
    fixed = dict(policy.thresholds)
    if policy.basis == "probability":
        pairs = [(s, p) for s, p in zip(scores, probabilities, strict=True) if p is not None]
        if not pairs:
            note = "no calibrated probability on this day: score thresholds used"
            return DayThresholds(fixed, policy.basis, "score", note)
        out = {}
        for tier in TIERS:
            reach = [s for s, p in pairs if p >= policy.probability_thresholds[tier]]
            out[tier] = min(reach) if reach else UNREACHABLE
        return DayThresholds(out, policy.basis, "probability")
    if policy.basis == "budget":
        ordered = sorted((float(s) for s in scores), reverse=True)
        out, counts = dict(fixed), {}
        for tier, share in policy.budget.items():
            k = math.floor(share * len(ordered) + 1e-9)
            out[tier] = max(_cut_for_count(ordered, k), policy.budget_min_score)
            counts[tier] = k
        return DayThresholds(out, policy.basis, "budget", budget_counts=counts)
    return DayThresholds(fixed, policy.basis, "score")


def tier_for_score(score: float, thresholds: Mapping[str, float]) -> str | None:
    """Highest tier whose threshold ``score`` (0-100) reaches, else None."""
    for tier in TIERS:
        if score >= thresholds[tier]:
            return tier
    return None


def floor_for(
    rule_hits: Iterable[str], reasons: Sequence[Mapping[str, Any]], policy: TierPolicy
) -> str | None:
    """Lowest tier the rule hits force: policy overrides by rule id, plus any ``tier_floor``
    a rule reason carries itself."""
    floor: str | None = None
    for rule_id in rule_hits:
        floor = higher(floor, policy.overrides.get(str(rule_id)))
    for reason in reasons:
        value = reason.get("tier_floor") if isinstance(reason, Mapping) else None
        if value in TIERS:
            floor = higher(floor, str(value))
    return floor


def assign_tier(
    score: float,
    rule_hits: Iterable[str],
    reasons: Sequence[Mapping[str, Any]],
    previous: PreviousTier | None,
    policy: TierPolicy,
    thresholds: Mapping[str, float] | None = None,
) -> TierDecision:
    """Tier for one manager today, under the day's ``thresholds`` (default: the policy's
    score thresholds; see :func:`day_thresholds`).

    Going up (or staying) is immediate. Going down needs the score below the current tier's
    threshold minus ``policy.margin`` on ``policy.down_runs`` consecutive runs; a score back
    inside the band resets the count. A rule override is a floor the tier never goes below.
    """
    bands = policy.thresholds if thresholds is None else thresholds
    raw = tier_for_score(score, bands)
    floor = floor_for(rule_hits, reasons, policy)
    candidate = higher(raw, floor)
    prev_tier = previous.tier if previous else None
    if rank(candidate) >= rank(prev_tier):
        return TierDecision(candidate, raw, floor, 0, held=False)
    assert prev_tier is not None  # candidate ranks below it
    band_floor = bands[prev_tier] - policy.margin
    if score >= band_floor:
        return TierDecision(prev_tier, raw, floor, 0, held=True)
    streak = (previous.down_streak if previous else 0) + 1
    if streak >= policy.down_runs:
        # Step down, but never below what the margin-lowered thresholds still grant.
        lowered = {t: v - policy.margin for t, v in bands.items()}
        landing = higher(candidate, tier_for_score(score, lowered))
        return TierDecision(landing, raw, floor, 0, held=False)
    return TierDecision(prev_tier, raw, floor, streak, held=True)
