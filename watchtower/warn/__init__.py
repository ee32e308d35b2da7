"""Warn: tiers from scores (with hysteresis and rule overrides), the alert lifecycle with its
audit trail, and routing by jurisdiction."""

from watchtower.warn.lifecycle import TRANSITIONS, AlertError, get_alert, transition
from watchtower.warn.policy import TIER_LABELS, PolicyError, TierPolicy, load_policy, rank
from watchtower.warn.routing import Subscription, load_subscriptions, normalize_region
from watchtower.warn.steps import WarnOrderError, WarnSummary, run_warn
from watchtower.warn.tiers import PreviousTier, TierDecision, assign_tier, tier_for_score

__all__ = [
    "TIER_LABELS",
    "TRANSITIONS",
    "AlertError",
    "PolicyError",
    "PreviousTier",
    "Subscription",
    "TierDecision",
    "TierPolicy",
    "WarnOrderError",
    "WarnSummary",
    "assign_tier",
    "get_alert",
    "load_policy",
    "load_subscriptions",
    "normalize_region",
    "rank",
    "run_warn",
    "tier_for_score",
    "transition",
]
