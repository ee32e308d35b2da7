"""Warn: tiers from scores (with hysteresis and rule overrides), the alert lifecycle with its
audit trail (a person's changes: transition, assign, add_note, reopen, snooze, unsnooze), and
routing by jurisdiction (in SQL for the readers' scope: :mod:`watchtower.warn.scope`); service
levels and what is overdue (:mod:`watchtower.warn.service`), and the oversight figures
(:mod:`watchtower.warn.metrics`).

The step: :func:`run_warn` (:mod:`watchtower.warn.steps`); the reads of alerts and tiers:
:mod:`watchtower.warn.queries`."""

from watchtower.warn.lifecycle import (
    TRANSITIONS,
    AlertError,
    add_note,
    assign,
    get_alert,
    reopen,
    snooze,
    transition,
    unsnooze,
)
from watchtower.warn.metrics import (
    AlertMetrics,
    DistrictMetrics,
    TierMetrics,
    alert_metrics,
    percentile,
)
from watchtower.warn.policy import TIER_LABELS, PolicyError, TierPolicy, load_policy, rank
from watchtower.warn.queries import (
    OverdueOn,
    alert_trail,
    alerts_open_on,
    count_alerts_by_tier,
    days_to_warn,
    digest_alerts,
    digest_tier_rows,
    get_alert_in_scope,
    latest_warn_day,
    list_alerts,
    manager_in_scope,
    open_alerts_by_tier,
    unrouted_alert_ids,
)
from watchtower.warn.routing import (
    Subscription,
    Webhook,
    adhoc_subscription,
    load_subscriptions,
    normalize_region,
)
from watchtower.warn.service import (
    ServiceLevel,
    ServiceLevelError,
    ServiceLevels,
    load_service_levels,
    overdue,
)
from watchtower.warn.steps import WarnOrderError, WarnSummary, run_warn
from watchtower.warn.tiers import PreviousTier, TierDecision, assign_tier, tier_for_score

__all__ = [
    "TIER_LABELS",
    "TRANSITIONS",
    "AlertError",
    "AlertMetrics",
    "DistrictMetrics",
    "OverdueOn",
    "PolicyError",
    "PreviousTier",
    "ServiceLevel",
    "ServiceLevelError",
    "ServiceLevels",
    "Subscription",
    "TierDecision",
    "TierMetrics",
    "TierPolicy",
    "WarnOrderError",
    "WarnSummary",
    "Webhook",
    "add_note",
    "adhoc_subscription",
    "alert_metrics",
    "alert_trail",
    "alerts_open_on",
    "assign",
    "assign_tier",
    "count_alerts_by_tier",
    "days_to_warn",
    "digest_alerts",
    "digest_tier_rows",
    "get_alert",
    "get_alert_in_scope",
    "latest_warn_day",
    "list_alerts",
    "load_policy",
    "load_service_levels",
    "load_subscriptions",
    "manager_in_scope",
    "normalize_region",
    "open_alerts_by_tier",
    "overdue",
    "percentile",
    "rank",
    "reopen",
    "run_warn",
    "snooze",
    "tier_for_score",
    "transition",
    "unrouted_alert_ids",
    "unsnooze",
]
