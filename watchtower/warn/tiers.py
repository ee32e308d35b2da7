"""Tier assignment: a pure function of today's score and the manager's previous tier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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
) -> TierDecision:
    """Tier for one manager today.

    Going up (or staying) is immediate. Going down needs the score below the current tier's
    threshold minus ``policy.margin`` on ``policy.down_runs`` consecutive runs; a score back
    inside the band resets the count. A rule override is a floor the tier never goes below.
    """
    raw = tier_for_score(score, policy.thresholds)
    floor = floor_for(rule_hits, reasons, policy)
    candidate = higher(raw, floor)
    prev_tier = previous.tier if previous else None
    if rank(candidate) >= rank(prev_tier):
        return TierDecision(candidate, raw, floor, 0, held=False)
    assert prev_tier is not None  # candidate ranks below it
    band_floor = policy.thresholds[prev_tier] - policy.margin
    if score >= band_floor:
        return TierDecision(prev_tier, raw, floor, 0, held=True)
    streak = (previous.down_streak if previous else 0) + 1
    if streak >= policy.down_runs:
        # Step down, but never below what the margin-lowered thresholds still grant.
        lowered = {t: v - policy.margin for t, v in policy.thresholds.items()}
        landing = higher(candidate, tier_for_score(score, lowered))
        return TierDecision(landing, raw, floor, 0, held=False)
    return TierDecision(prev_tier, raw, floor, streak, held=True)
