"""What the manager page shows beside the profile, read point in time as of the profile's day:
the score and tier per run day, one timeline of what changed and what was done, the funds
and their states, the manager against its peer group, and related managers in one's scope.

Every read filters ``known_from <= D`` (history tables) or ``as_of <= D`` (derived tables);
a related manager is listed only when the database places it in the reader's districts
(:func:`watchtower.warn.scope.scope_condition`). SQLAlchemy Core selects only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from watchtower.chart import ScorePoint
from watchtower.config import RoutingAddress
from watchtower.detect import POOLED, DetectConfig, peer_groups
from watchtower.features import latest_snapshots, latest_tiers, links_between, read_facts
from watchtower.managers._profile import HISTORY_FIELDS, LinkedFund, ManagerProfile
from watchtower.store.alerts import alert_events, manager_tiers
from watchtower.store.features import load_features
from watchtower.store.labels import incident_labels
from watchtower.store.schema import fund_details
from watchtower.store.scoring import risk_scores
from watchtower.values import finite_float
from watchtower.warn.scope import places, scope_condition

__all__ = [
    "FundState",
    "PeerComparison",
    "PeerFeature",
    "RelatedManager",
    "TimelineEntry",
    "change_timeline",
    "manager_funds",
    "peer_comparison",
    "related_managers",
    "score_history",
]

#: The most features a peer comparison shows (the reasons name at most five).
TOP_FEATURES = 5


def score_history(
    conn: sa.Connection, register_no: str, as_of: dt.date | None = None
) -> list[ScorePoint]:
    """The manager's score and tier per warn run up to ``as_of`` (None: all), oldest first."""
    mt = manager_tiers
    q = sa.select(mt.c.as_of, mt.c.score, mt.c.tier).where(mt.c.register_no == register_no)
    if as_of is not None:
        q = q.where(mt.c.as_of <= as_of)
    rows = conn.execute(q.order_by(mt.c.as_of))
    return [ScorePoint(r.as_of, float(r.score), r.tier) for r in rows]


@dataclass(frozen=True)
class TimelineEntry:
    """One dated item of the manager's timeline. ``kind``: ``snapshot`` (a registration field
    changed between two list snapshots: ``code`` is the field, ``old`` and ``new`` its
    values), ``change`` (a change derived from the snapshots), ``event`` (an external
    event), ``cancellation``, ``incident`` (``code``: the event type), or ``alert`` (what
    happened to an alert: ``code`` is the action, with its ``actor``, status and tier
    moves and ``note``)."""

    day: dt.date
    kind: str
    code: str
    old: Any = None
    new: Any = None
    text: str | None = None
    actor: str | None = None
    alert_id: int | None = None
    from_status: str | None = None
    to_status: str | None = None
    from_tier: str | None = None
    to_tier: str | None = None
    at: dt.datetime | None = None


_KIND_ORDER = {"alert": 0, "incident": 1, "cancellation": 2, "event": 3, "change": 4, "snapshot": 5}


def _profile_entries(profile: ManagerProfile) -> list[TimelineEntry]:
    """The snapshot differences and the profile's events. A derived change that names a
    field is the same fact as the snapshot difference of that field on that day: it is kept
    (it says its type) and the difference is not repeated."""
    out: list[TimelineEntry] = []
    named = {(e.known_from, e.field) for e in profile.events if e.kind == "change" and e.field} | {
        (e.event_date, e.field) for e in profile.events if e.kind == "change" and e.field
    }
    for snap in profile.snapshots:
        for name in HISTORY_FIELDS:
            if name in snap.changes and (snap.known_from, name) not in named:
                old, new = snap.changes[name]
                out.append(TimelineEntry(snap.known_from, "snapshot", name, old, new))
    for e in profile.events:
        out.append(
            TimelineEntry(
                e.event_date,
                e.kind,
                e.event_type,
                e.old_value,
                e.new_value,
                text=e.description,
            )
        )
    return out


def change_timeline(conn: sa.Connection, profile: ManagerProfile) -> list[TimelineEntry]:
    """What changed in the manager's registration between its snapshots, its events and what
    happened to its alerts (opened, escalated, acknowledged, notes...), up to the profile's
    day, newest first (an alert's actions in the order done)."""
    e = alert_events
    rows = conn.execute(
        sa.select(e)
        .where(e.c.register_no == profile.register_no, e.c.as_of <= profile.as_of)
        .order_by(e.c.id)
    ).mappings()
    entries = _profile_entries(profile)
    entries += [
        TimelineEntry(
            r["as_of"],
            "alert",
            r["action"],
            text=r["note"],
            actor=r["actor"],
            alert_id=r["alert_id"],
            from_status=r["from_status"],
            to_status=r["to_status"],
            from_tier=r["from_tier"],
            to_tier=r["to_tier"],
            at=r["at"],
        )
        for r in rows
    ]
    indexed = list(enumerate(entries))
    indexed.sort(key=lambda ie: (ie[1].day, -_KIND_ORDER[ie[1].kind], ie[0]), reverse=True)
    return [entry for _, entry in indexed]


@dataclass(frozen=True)
class FundState:
    """One fund of the manager as known on D: the list's state and filing date, its type
    from the list or else from its detail page."""

    fund_no: str | None
    fund_name: str | None
    fund_type: str | None
    working_state: str | None
    put_on_record_date: dt.date | None
    known_from: dt.date


def _detail_types(conn: sa.Connection, fund_nos: list[str], day: dt.date) -> dict[str, str]:
    """The fund type of each fund's latest detail page known by ``day`` that gives one."""
    if not fund_nos:
        return {}
    fd = fund_details
    rows = conn.execute(
        sa.select(fd.c.fund_no, fd.c.fund_type)
        .where(fd.c.fund_no.in_(fund_nos), fd.c.known_from <= day, fd.c.fund_type.is_not(None))
        .order_by(fd.c.known_from, fd.c.id)
    )
    return {str(no): str(kind) for no, kind in rows}


def manager_funds(conn: sa.Connection, profile: ManagerProfile) -> list[FundState]:
    """The profile's funds with their type, state and filing date (the profile's order)."""
    funds: tuple[LinkedFund, ...] = profile.funds
    types = _detail_types(conn, [f.fund_no for f in funds if f.fund_no], profile.as_of)
    return [
        FundState(
            fund_no=f.fund_no,
            fund_name=f.fund_name,
            fund_type=f.fund_type or (types.get(f.fund_no) if f.fund_no else None),
            working_state=f.working_state,
            put_on_record_date=f.put_on_record_date,
            known_from=f.known_from,
        )
        for f in funds
    ]


@dataclass(frozen=True)
class PeerFeature:
    """One of the manager's top features against its peer group: its value, the group's
    median and the manager's percentile in the group (0-100, ties counted half: the share of
    peers below it), over the peers with a value (``peers``)."""

    feature: str
    value: float | None
    peer_median: float | None
    percentile: float | None
    peers: int


@dataclass(frozen=True)
class PeerComparison:
    """The manager on its latest scored day against its peer group (the detectors' groups:
    ``config.peer_key`` with ``config.peer_min_size``; :data:`watchtower.detect.POOLED` for
    managers compared with everyone), on the features its reasons name."""

    as_of: dt.date
    peer_group: str
    group_size: int
    features: tuple[PeerFeature, ...]


def _reason_features(reasons: Iterable[Mapping[str, Any]]) -> list[str]:
    """The features the reasons name, most important first: a feature reason's code, a rule
    reason's feature."""
    out: list[str] = []
    for r in reasons:
        name = r.get("code") if r.get("kind") == "feature" else r.get("feature")
        if isinstance(name, str) and name and name not in out:
            out.append(name)
    return out[:TOP_FEATURES]


def _compare(feature: str, value: float | None, column: np.ndarray) -> PeerFeature:
    present = column[np.isfinite(column)]
    if not len(present):
        return PeerFeature(feature, value, None, None, 0)
    median = float(np.median(present))
    percentile = None
    if value is not None:
        below = float(np.sum(present < value)) + 0.5 * float(np.sum(present == value))
        percentile = round(100.0 * below / len(present), 1)
    return PeerFeature(feature, value, median, percentile, len(present))


def peer_comparison(
    conn: sa.Connection,
    register_no: str,
    *,
    config: DetectConfig,
    as_of: dt.date | None = None,
) -> PeerComparison | None:
    """The manager against its peer group on its latest scored day up to ``as_of``, on the
    features of that day's reasons; None when it was never scored or its features are not
    stored."""
    rs = risk_scores
    q = sa.select(rs.c.as_of, rs.c.reasons, rs.c.feature_set_version).where(
        rs.c.register_no == register_no
    )
    if as_of is not None:
        q = q.where(rs.c.as_of <= as_of)
    scored = conn.execute(q.order_by(rs.c.as_of.desc()).limit(1)).first()
    if scored is None:
        return None
    frame = load_features(conn, scored.as_of, scored.feature_set_version)
    if register_no not in frame.index:
        return None
    groups = peer_groups(frame, config.peer_key, config.peer_min_size)
    label = groups.loc[register_no]
    members = frame if label == POOLED else frame[(groups == label).to_numpy()]
    out = []
    for name in _reason_features(scored.reasons or []):
        if name not in frame.columns:
            continue
        value = finite_float(frame.at[register_no, name])
        column = members[name].to_numpy(dtype=float)
        out.append(_compare(name, value, column))
    return PeerComparison(scored.as_of, str(label), len(members), tuple(out))


@dataclass(frozen=True)
class RelatedManager:
    """A manager sharing something with this one as known on D. ``links``: what is shared,
    as ``(kind, value)`` with kind ``legal_rep``, ``executive``, ``controller``,
    ``shareholder``, ``registered_address`` or ``office_address`` (the other's address equal
    to one of ours) and the other's value; ``tier`` and ``score``: its latest warn run by D
    (tier None: below every tier); ``incident``: its latest incident type known by D (None:
    none). The links are the relationship graph's (:mod:`watchtower.features`), every shared
    value listed, hubs included: a supervisor reads what is shared."""

    register_no: str
    manager_name: str | None
    links: tuple[tuple[str, str], ...]
    tier: str | None
    score: float | None
    incident: str | None = None

    def sentences(self) -> list[tuple[str, str]]:
        """One (zh, en) sentence per link naming what is shared and with whom, and what the
        other manager went through (an incident, else its tier). The feed's text is put in
        as it is: whoever shows it escapes it for its medium (terminal, HTML)."""
        name = self.manager_name or self.register_no
        if self.incident is not None:
            zh_tail, en_tail = "，该机构已出险", f", which had an incident ({self.incident})"
        elif self.tier is not None:
            zh_tail = f"，该机构为{_TIER_ZH.get(self.tier, self.tier)}色预警"
            en_tail = f", which is at {self.tier}"
        else:
            zh_tail = en_tail = ""
        out = []
        for kind, value in self.links:
            zh, en = _LINK_LABELS.get(kind, (kind, kind))
            out.append(
                (
                    f"与 {name} 共用{zh}（{value}）{zh_tail}",
                    f"shares {en} ({value}) with {name}{en_tail}",
                )
            )
        return out


#: How a sentence names each kind of link (zh, en).
_LINK_LABELS = {
    "legal_rep": ("法定代表人", "its legal representative"),
    "executive": ("高管", "an executive"),
    "controller": ("实际控制人", "its actual controller"),
    "shareholder": ("股东", "a shareholder"),
    "registered_address": ("注册地址", "an address (the other's registered address)"),
    "office_address": ("办公地址", "an address (the other's office address)"),
}
_TIER_ZH = {"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"}


def _incidents(conn: sa.Connection, register_nos: list[str], day: dt.date) -> dict[str, str]:
    """Each manager's latest incident type dated and known by ``day``."""
    labels = incident_labels(conn, known_by=day)
    labels = labels[labels["register_no"].isin(register_nos) & (labels["incident_date"] <= day)]
    return {str(r.register_no): str(r.incident_type) for r in labels.itertuples()}


def related_managers(
    conn: sa.Connection,
    register_no: str,
    *,
    districts: Collection[str] | None,
    address: RoutingAddress = "registered",
    as_of: dt.date,
) -> list[RelatedManager]:
    """Managers sharing the legal representative, an executive, the actual controller, a
    shareholder or an address (registered or office) with this one, as both were known on
    ``as_of``, with a list snapshot known by then, placed by the database in ``districts``
    (None: any), by register number."""
    links = links_between(read_facts(conn, as_of), of=[register_no], hub_max=None)
    if links.empty:
        return []
    shared: dict[str, set[tuple[str, str]]] = {}
    for row in links.itertuples():
        shared.setdefault(str(row.other), set()).add((str(row.kind), str(row.value)))
    snap = latest_snapshots(as_of, "manager_name")
    tiers = latest_tiers(as_of)
    q = (
        sa.select(snap.c.register_no, snap.c.manager_name, tiers.c.tier, tiers.c.score)
        .select_from(snap.outerjoin(tiers, tiers.c.register_no == snap.c.register_no))
        .where(snap.c.register_no.in_(sorted(shared)))
        .order_by(snap.c.register_no)
    )
    if districts is not None:
        where = places(address)
        in_scope = sa.select(where.subquery.c.register_no).where(
            scope_condition(conn, districts, where, None, None)
        )
        q = q.where(snap.c.register_no.in_(in_scope))
    rows = list(conn.execute(q).mappings())
    incidents = _incidents(conn, [str(r["register_no"]) for r in rows], as_of)
    return [
        RelatedManager(
            str(row["register_no"]),
            row["manager_name"],
            tuple(sorted(shared[str(row["register_no"])])),
            row["tier"],
            finite_float(row["score"]),
            incidents.get(str(row["register_no"])),
        )
        for row in rows
    ]
