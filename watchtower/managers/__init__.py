"""Managers: one manager's profile as known on a day (point in time).

:func:`manager_profile` reads the store (snapshots, detail page, change events, external
events, deregistrations, incidents, features, score, tier, linked funds) as of day D; the
queries of :mod:`watchtower.managers.queries` what the console's manager page shows beside it
(score history, one timeline, funds, peers, related managers in one's scope).
Text shown on a terminal goes through :func:`watchtower.text.terminal_text`.
"""

from watchtower.managers._profile import (
    HISTORY_FIELDS,
    AlertState,
    Details,
    Event,
    Features,
    LinkedFund,
    ManagerProfile,
    Score,
    Snapshot,
    SnapshotChange,
    Tier,
    latest_known_day,
    latest_snapshot_day,
    manager_profile,
)
from watchtower.managers.queries import (
    FundState,
    PeerComparison,
    PeerFeature,
    RelatedManager,
    TimelineEntry,
    change_timeline,
    manager_funds,
    peer_comparison,
    related_managers,
    score_history,
)

__all__ = [
    "HISTORY_FIELDS",
    "AlertState",
    "Details",
    "Event",
    "Features",
    "FundState",
    "LinkedFund",
    "ManagerProfile",
    "PeerComparison",
    "PeerFeature",
    "RelatedManager",
    "Score",
    "Snapshot",
    "SnapshotChange",
    "Tier",
    "TimelineEntry",
    "change_timeline",
    "latest_known_day",
    "latest_snapshot_day",
    "manager_funds",
    "manager_profile",
    "peer_comparison",
    "related_managers",
    "score_history",
]
