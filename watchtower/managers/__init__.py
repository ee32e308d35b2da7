"""Managers: one manager's profile as known on a day (point in time).

:func:`manager_profile` reads the store (snapshots, detail page, change events, external
events, deregistrations, incidents, features, score, tier, linked funds) as of day D.
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

__all__ = [
    "HISTORY_FIELDS",
    "AlertState",
    "Details",
    "Event",
    "Features",
    "LinkedFund",
    "ManagerProfile",
    "Score",
    "Snapshot",
    "SnapshotChange",
    "Tier",
    "latest_known_day",
    "latest_snapshot_day",
    "manager_profile",
]
