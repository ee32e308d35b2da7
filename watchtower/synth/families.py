"""World families: named presets of the synthetic world, one declared table.

A family fixes how a world is drawn beyond its seed: how many managers of each scenario,
how long before its incident a risky manager starts to show (lead), how strongly (each
signal's chance, the minimum number shown), which kinds of field carry the signal (a
multiplier per channel), how much weak noise healthy managers carry, and which of the
supervisor's own feeds are not delivered at all.

``development`` is the world the detectors are developed and tuned on (the defaults since the
generator was written; same arguments, same bytes as before families existed). The
``locked_*`` families are for reporting only: never tune a threshold, a feature or a detector
on them, or they stop measuring anything (docs/synthetic-world.md, docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

#: The kinds of field a planted signal lives in (the channel of every signal is declared
#: beside its scenario in ``_scenarios``): the supervisor's fund reports, the external events
#: feed, the manager's public profile (lists, detail pages, export: staff, capital, tips,
#: representative, membership, record freshness) and the fund list (fund states).
CHANNELS: tuple[str, ...] = ("reports", "events", "profile", "funds")

#: The supervisor's own feeds a family may leave out (the public AMAC feed and the incident
#: file are always written: without incidents there is nothing to measure).
OMITTABLE: tuple[str, ...] = ("reports", "events", "manager_export")

Role = Literal["development", "locked"]

_DEVELOPMENT_SHARES: dict[str, float] = {
    "run_off": 0.022,
    "lost_contact": 0.020,
    "illegal_fundraising": 0.016,
    "enforcement": 0.012,
    "shell": 0.010,
    "large_firm": 0.006,
    "new_manager": 0.026,
    "office_mover": 0.024,
    "late_filer": 0.024,
}


@dataclass(frozen=True)
class WorldFamily:
    """One family of worlds. ``shares``: scenario -> share of managers (a scenario absent or
    at 0 is not planted; one present gets at least one manager in a world of 40 or more).
    ``lead_days``: onset drawn [lo, hi) days before the incident. ``signal_strength``
    multiplies every signal's chance of being on, ``channels`` multiplies it per channel
    (``CHANNELS``; 0 turns a channel off); chances are capped at 1. ``min_signals``: a risky
    manager shows at least this many of its scenario's signals (among those whose chance is
    above 0). ``noise_share``: healthy managers given one weak isolated signal. ``omit``:
    the supervisor's feeds not written (``OMITTABLE``). ``shared_person_share``: the share
    of risky managers whose actual controller (also their main shareholder on the detail
    page) is another risky manager's (a planted network; 0: controllers are random people)."""

    name: str
    role: Role
    summary: str
    shares: Mapping[str, float]
    lead_days: tuple[int, int] = (183, 549)
    signal_strength: float = 1.0
    min_signals: int = 2
    channels: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    noise_share: float = 0.15
    omit: frozenset[str] = frozenset()
    shared_person_share: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"family {self.name}: unknown channel(s) {sorted(unknown)}")
        if set(self.omit) - set(OMITTABLE):
            raise ValueError(
                f"family {self.name}: cannot omit {sorted(set(self.omit) - set(OMITTABLE))}"
            )
        lo, hi = self.lead_days
        if not 30 <= lo < hi:
            raise ValueError(f"family {self.name}: lead_days must satisfy 30 <= lo < hi")
        if any(v < 0 for v in (*self.shares.values(), *self.channels.values())):
            raise ValueError(f"family {self.name}: shares and channel weights must be >= 0")
        if not 0.0 <= self.shared_person_share <= 1.0:
            raise ValueError(f"family {self.name}: shared_person_share must be in [0, 1]")
        if sum(self.shares.values()) >= 0.9:
            raise ValueError(f"family {self.name}: scenario shares leave too few healthy managers")

    def channel_weight(self, channel: str) -> float:
        return float(self.channels.get(channel, 1.0))

    def as_dict(self) -> dict[str, Any]:
        """The family as plain JSON (written to the world's ``_truth/family.json``); the
        planted network's share only when there is one, so that the worlds of families
        without it stay byte for byte what they were."""
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "summary": self.summary,
            "shares": dict(self.shares),
            "lead_days": list(self.lead_days),
            "signal_strength": self.signal_strength,
            "min_signals": self.min_signals,
            "channels": {c: self.channel_weight(c) for c in CHANNELS},
            "noise_share": self.noise_share,
            "omit": sorted(self.omit),
        }
        if self.shared_person_share:
            out["shared_person_share"] = self.shared_person_share
        return out


#: The declared families. Change ``development`` only on purpose (it is the tuning world);
#: a locked family is changed only to make it harder or more different, never to make a
#: measured number look better.
FAMILIES: Mapping[str, WorldFamily] = MappingProxyType(
    {
        f.name: f
        for f in (
            WorldFamily(
                name="development",
                role="development",
                summary="the tuning world: every feed, default signals and leads, 8% risky, "
                "8% benign outliers",
                shares=MappingProxyType(_DEVELOPMENT_SHARES),
            ),
            WorldFamily(
                name="locked_faint",
                role="locked",
                summary="faint and late: signals half as likely (at least one), onsets 4-10 "
                "months ahead, filings carry less and events more of it; 16% benign "
                "outliers, sloppy but honest filers among them; more weak noise",
                shares=MappingProxyType(
                    {
                        "run_off": 0.018,
                        "lost_contact": 0.018,
                        "illegal_fundraising": 0.022,
                        "enforcement": 0.018,
                        "shell": 0.006,
                        "large_firm": 0.02,
                        "new_manager": 0.04,
                        "office_mover": 0.03,
                        "late_filer": 0.04,
                        "sloppy_filer": 0.03,
                    }
                ),
                lead_days=(120, 300),
                signal_strength=0.55,
                min_signals=1,
                channels=MappingProxyType({"reports": 0.6, "events": 1.3}),
                noise_share=0.3,
            ),
            WorldFamily(
                name="locked_no_reports",
                role="locked",
                summary="no fund reports delivered (the signal lives in events, the profile "
                "and fund states); more fundraising fraud and enforcement, fewer run-offs; "
                "long leads; many newcomers and movers",
                shares=MappingProxyType(
                    {
                        "run_off": 0.012,
                        "lost_contact": 0.02,
                        "illegal_fundraising": 0.026,
                        "enforcement": 0.022,
                        "shell": 0.014,
                        "large_firm": 0.012,
                        "new_manager": 0.05,
                        "office_mover": 0.04,
                    }
                ),
                lead_days=(270, 640),
                omit=frozenset({"reports"}),
            ),
            WorldFamily(
                name="locked_public_only",
                role="locked",
                summary="public data only: AMAC's lists, detail pages and deregistrations (no "
                "reports, no events feed, no supervisor export); signals in the profile "
                "and fund states; benign newcomers, movers and giants",
                shares=MappingProxyType(
                    {
                        "run_off": 0.02,
                        "lost_contact": 0.024,
                        "illegal_fundraising": 0.014,
                        "enforcement": 0.01,
                        "shell": 0.016,
                        "large_firm": 0.015,
                        "new_manager": 0.045,
                        "office_mover": 0.035,
                    }
                ),
                signal_strength=1.2,
                omit=frozenset({"reports", "events", "manager_export"}),
            ),
            WorldFamily(
                name="locked_network",
                role="locked",
                summary="networks of risk: half the risky managers share their actual "
                "controller (and main shareholder) with another risky manager; fainter, "
                "later own signals (0.7, onsets 5-14 months ahead), more benign outliers",
                shares=MappingProxyType(
                    {
                        "run_off": 0.02,
                        "lost_contact": 0.02,
                        "illegal_fundraising": 0.024,
                        "enforcement": 0.014,
                        "shell": 0.012,
                        "large_firm": 0.01,
                        "new_manager": 0.03,
                        "office_mover": 0.03,
                        "late_filer": 0.03,
                    }
                ),
                lead_days=(150, 430),
                signal_strength=0.7,
                shared_person_share=0.5,
            ),
        )
    }
)

DEVELOPMENT = FAMILIES["development"]


def world_family(name: str) -> WorldFamily:
    """The family called ``name``; ValueError naming the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise ValueError(f"unknown world family {name!r}; known: {known}") from None


__all__ = ["CHANNELS", "DEVELOPMENT", "FAMILIES", "OMITTABLE", "WorldFamily", "world_family"]
