"""Warn: tiers from scores (with hysteresis and rule overrides), the alert lifecycle with its
audit trail, and routing by jurisdiction.

The step: :func:`run_warn` (:mod:`watchtower.warn.steps`); the reads of alerts and tiers:
:mod:`watchtower.warn.queries`."""

from watchtower.warn.lifecycle import TRANSITIONS, AlertError, get_alert, transition
from watchtower.warn.policy import TIER_LABELS, PolicyError, TierPolicy, load_policy, rank
from watchtower.warn.queries import (
    alert_trail,
    alerts_open_on,
    days_to_warn,
    list_alerts,
    open_alerts_by_tier,
)
from watchtower.warn.routing import (
    Subscription,
    adhoc_subscription,
    load_subscriptions,
    normalize_region,
)
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
    "adhoc_subscription",
    "alert_trail",
    "alerts_open_on",
    "assign_tier",
    "days_to_warn",
    "get_alert",
    "list_alerts",
    "load_policy",
    "load_subscriptions",
    "normalize_region",
    "open_alerts_by_tier",
    "rank",
    "run_warn",
    "tier_for_score",
    "transition",
]
