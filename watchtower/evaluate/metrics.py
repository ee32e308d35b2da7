"""Evaluation metrics as pure functions on plain frames.

Inputs (pandas DataFrames, one row each):

- ``scores``: ``as_of`` (date), ``register_no`` (str), ``score`` (float, higher = riskier).
- ``incidents``: ``register_no``, ``incident_date`` (date). Only each manager's *first*
  incident counts: after it, the manager is no longer something to foresee.
- ``tiers``: ``as_of``, ``register_no``, ``tier`` (``red`` | ``orange`` | ``yellow`` |
  ``blue`` | None for no tier).

Definitions (the choices, so that numbers can be read):

- **Label** for as-of day D and horizon H days: the manager's first incident lies in
  (D, D+H]. A manager whose first incident is on or before D is dropped from D and every
  later day (it already happened; there is nothing left to warn about).
- **Fully observed**: a day D counts for the horizon-H ranking metrics (AUC-ROC, AUC-PR,
  precision@k, false-alarm rate) only when D+H <= ``observed_until`` (the last day incidents
  are known for). Otherwise a manager whose incident falls after ``observed_until`` would be
  counted as a negative and every metric biased downwards near the end of the data.
- **AUC-ROC / AUC-PR** are computed per day (sklearn ``roc_auc_score`` with mid-rank ties,
  ``average_precision_score``) and averaged over the days that have both classes (macro).
- **Precision@k**: share of incidents within H among the k highest scores of the day,
  averaged over days. Ties at the k-th score are broken at random *in expectation* (the tied
  block contributes its positive share), so a coarse score (rules only) is neither rewarded
  nor punished by an arbitrary order. With fewer than k managers, k = the number scored.
- **Warned >= L days ahead at tier >= T** (recall): an incident counts as warned when the
  manager was at tier T or above on some backtest day D with I - ``lookback`` <= D <= I - L
  (I: incident date; lookback 365 days: a warning older than a year is not a warning of this
  incident). An incident is *eligible* when that window holds at least one backtest day and
  I <= ``observed_until``.
- **Lead time** of a warned incident at tier >= T: I minus the first backtest day in
  [I - lookback, I) at tier >= T (days). Incidents with no such day have no lead time.
- **False-alarm rate of tier T** at horizon H: among (day, manager) pairs at exactly tier T
  on fully observed days, the share without an incident within (D, D+H]; i.e. 1 - precision
  of that tier. Reported with the number of pairs.
- **Benign outliers in the top share** (default 5%): per day, the ceil(5% x n) highest
  scores; ``benign_share_of_top``: the share of those that are planted benign outliers
  (legitimately unusual managers), ``benign_in_top``: the share of the day's planted benign
  outliers that land in that top. Both averaged over days; lower is better.
- **False alarms at tier >= T** (``alarm_tier``, orange): among (day, manager) pairs at T or
  above on fully observed days, the share without an incident within (D, D+H]: the share of
  the warnings a supervisor acts on that lead nowhere within a year.
- **Expected top membership**: a manager is in the day's top ``top_share`` (k = ceil(share x
  n)) with probability 1 above the k-th score, (k - n_above) / n_tied when tied at it, 0
  below: ties broken at random in expectation, as for precision@k.
- **Top-share recall**: an incident reaches the top when its manager is in the day's top on
  some backtest day in [I - lookback, I); with ties, the chance that it does (1 - product of
  the per-day chances of missing it; a day it was not scored is a miss). Eligible: a backtest
  day in that window and I <= ``observed_until``.
- **Per incident family**: recall at >= ``min_lead`` days at tier >= ``alarm_tier`` and
  top-share recall, over the incidents of each family (a synthetic world's truth ``family``
  of its risky managers).
- **Per benign kind**: for each kind of planted benign outlier (the truth's ``scenario``),
  its expected share of the day's top and its members' expected rate of landing there, both
  averaged over days (the rate over days where the kind has scored members).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

#: Tier names from most to least severe (same order as watchtower.store.alerts.TIERS).
TIER_ORDER: tuple[str, ...] = ("red", "orange", "yellow", "blue")
_TIER_RANK = {t: len(TIER_ORDER) - i for i, t in enumerate(TIER_ORDER)}  # red 4 ... blue 1


@dataclass(frozen=True)
class EvalConfig:
    """Knobs of the evaluation. Days are calendar days."""

    horizons: tuple[int, ...] = (90, 180, 365)
    ks: tuple[int, ...] = (20, 50, 100)
    min_lead: int = 90
    lookback: int = 365
    warn_tiers: tuple[str, ...] = ("yellow", "orange")
    top_share: float = 0.05
    false_alarm_horizon: int = 365
    alarm_tier: str = "orange"


def tier_rank(tier: Any) -> int:
    """4 for red, 3 orange, 2 yellow, 1 blue, 0 for no tier (None/NaN/unknown)."""
    return _TIER_RANK.get(tier, 0) if isinstance(tier, str) else 0


def _as_date_series(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.normalize()


def first_incidents(incidents: pd.DataFrame) -> pd.Series:
    """Earliest incident date per manager: Series register_no -> Timestamp."""
    if incidents.empty:
        return pd.Series([], dtype="datetime64[ns]", name="incident_date")
    inc = incidents.dropna(subset=["register_no", "incident_date"])
    first = inc.assign(incident_date=_as_date_series(inc["incident_date"])).groupby("register_no")[
        "incident_date"
    ]
    return first.min()


def label_scores(
    scores: pd.DataFrame,
    incidents: pd.DataFrame,
    horizon: int,
    observed_until: dt.date | None = None,
) -> pd.DataFrame:
    """Attach labels for one horizon.

    Returns ``scores`` minus managers already past their first incident, with columns added:
    ``label`` (bool: first incident in (as_of, as_of+horizon]), ``observed`` (bool:
    as_of+horizon <= observed_until; all True when observed_until is None) and ``incident_date``
    (Timestamp or NaT).
    """
    first = first_incidents(incidents)
    out = scores.copy()
    out["as_of"] = _as_date_series(out["as_of"])
    out["incident_date"] = out["register_no"].map(first)
    out["incident_date"] = pd.to_datetime(out["incident_date"])
    inc = out["incident_date"]
    out = out[~(inc.notna() & (inc <= out["as_of"]))].copy()
    end = out["as_of"] + pd.Timedelta(days=horizon)
    out["label"] = (out["incident_date"] > out["as_of"]) & (out["incident_date"] <= end)
    if observed_until is None:
        out["observed"] = True
    else:
        out["observed"] = end <= pd.Timestamp(observed_until)
    return out


def precision_at_k(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Expected precision among the ``k`` highest scores, ties at the cut broken at random.

    ``k`` is capped at the number of items; NaN when there are none.
    """
    n = len(scores)
    if n == 0 or k <= 0:
        return math.nan
    k = min(k, n)
    order = np.sort(scores)[::-1]
    cut = order[k - 1]
    above = scores > cut
    tied = scores == cut
    n_above = int(above.sum())
    pos_above = int(labels[above].sum())
    n_tied = int(tied.sum())
    pos_tied = int(labels[tied].sum())
    return (pos_above + (k - n_above) * pos_tied / n_tied) / k


@dataclass
class RankingResult:
    """Ranking metrics for one horizon: per day and their means over days."""

    horizon: int
    per_date: pd.DataFrame  # as_of, n, positives, auc_roc, auc_pr, p_at_<k>...
    auc_roc: float
    auc_pr: float
    base_rate: float
    precision_at: dict[int, float]
    dates: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon_days": self.horizon,
            "dates": self.dates,
            "auc_roc": _num(self.auc_roc),
            "auc_pr": _num(self.auc_pr),
            "base_rate": _num(self.base_rate),
            "precision_at": {str(k): _num(v) for k, v in self.precision_at.items()},
        }


def ranking_metrics(
    scores: pd.DataFrame,
    incidents: pd.DataFrame,
    horizon: int,
    *,
    ks: Sequence[int] = (20, 50, 100),
    observed_until: dt.date | None = None,
) -> RankingResult:
    """AUC-ROC, AUC-PR and precision@k of ``scores`` for incidents within ``horizon`` days.

    Only fully observed days count (see the module doc). Days with a single class are kept for
    precision@k but skipped for the AUCs.
    """
    lab = label_scores(scores.dropna(subset=["score"]), incidents, horizon, observed_until)
    lab = lab[lab["observed"]]
    rows: list[dict[str, Any]] = []
    for as_of, day in lab.groupby("as_of", sort=True):
        s = day["score"].to_numpy(dtype=float)
        y = day["label"].to_numpy(dtype=bool)
        pos = int(y.sum())
        day_of = pd.Timestamp(str(as_of)).date()
        row: dict[str, Any] = {"as_of": day_of, "n": len(y), "positives": pos}
        if 0 < pos < len(y):
            row["auc_roc"] = float(roc_auc_score(y, s))
            row["auc_pr"] = float(average_precision_score(y, s))
        else:
            row["auc_roc"] = math.nan
            row["auc_pr"] = math.nan
        for k in ks:
            row[f"p_at_{k}"] = precision_at_k(s, y, k)
        rows.append(row)
    cols = ["as_of", "n", "positives", "auc_roc", "auc_pr", *[f"p_at_{k}" for k in ks]]
    per = pd.DataFrame(rows, columns=cols)
    base = float(per["positives"].sum() / per["n"].sum()) if len(per) and per["n"].sum() else 0.0
    return RankingResult(
        horizon=horizon,
        per_date=per,
        auc_roc=_mean(per["auc_roc"]),
        auc_pr=_mean(per["auc_pr"]),
        base_rate=base if len(per) else math.nan,
        precision_at={k: _mean(per[f"p_at_{k}"]) for k in ks},
        dates=len(per),
    )


def pooled_pr_curve(
    scores: pd.DataFrame,
    incidents: pd.DataFrame,
    horizon: int,
    observed_until: dt.date | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) arrays of the precision-recall curve pooled over fully observed days.

    Scores are ranked within each day first (percentile rank) so that days mix fairly.
    """
    lab = label_scores(scores.dropna(subset=["score"]), incidents, horizon, observed_until)
    lab = lab[lab["observed"]]
    if lab.empty or not lab["label"].any() or lab["label"].all():
        return np.array([]), np.array([])
    pct = lab.groupby("as_of")["score"].rank(pct=True, method="average")
    precision, recall, _ = precision_recall_curve(lab["label"].to_numpy(), pct.to_numpy())
    return recall, precision


@dataclass
class WarningResult:
    """Per-incident warning outcome and the recall / lead-time summaries."""

    incidents: pd.DataFrame  # register_no, incident_date, lead_<tier> (days or NaN)
    eligible: int
    recall: dict[str, float]  # tier -> share of eligible incidents warned >= min_lead ahead
    warned: dict[str, int]
    median_lead: dict[str, float]  # tier -> median lead time (days) over warned-at-all
    min_lead: int
    lookback: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "eligible_incidents": self.eligible,
            "min_lead_days": self.min_lead,
            "lookback_days": self.lookback,
            "recall_at_min_lead": {t: _num(v) for t, v in self.recall.items()},
            "warned_at_min_lead": dict(self.warned),
            "median_lead_days": {t: _num(v) for t, v in self.median_lead.items()},
        }


def warning_metrics(
    tiers: pd.DataFrame,
    incidents: pd.DataFrame,
    dates: Iterable[dt.date],
    *,
    warn_tiers: Sequence[str] = ("yellow", "orange"),
    min_lead: int = 90,
    lookback: int = 365,
    observed_until: dt.date | None = None,
) -> WarningResult:
    """Recall of incidents warned ``min_lead`` days ahead, and lead times, per tier threshold.

    ``dates`` are the backtest days (a manager absent from ``tiers`` on a day had no tier).
    """
    days = pd.DatetimeIndex(sorted({pd.Timestamp(d) for d in dates}))
    first = first_incidents(incidents)
    if observed_until is not None:
        first = first[first <= pd.Timestamp(observed_until)]
    t = tiers.copy()
    t["as_of"] = _as_date_series(t["as_of"])
    t["rank"] = t["tier"].map(tier_rank)
    t = t[(t["rank"] > 0) & t["register_no"].isin(first.index)]
    by_manager: dict[str, pd.DataFrame] = {str(reg): g for reg, g in t.groupby("register_no")}
    rows: list[dict[str, Any]] = []
    lb = pd.Timedelta(days=lookback)
    ml = pd.Timedelta(days=min_lead)
    for reg, inc in first.sort_index().items():
        window = days[(days >= inc - lb) & (days <= inc - ml)]
        row: dict[str, Any] = {
            "register_no": reg,
            "incident_date": inc.date(),
            "eligible": len(window) > 0,
        }
        g = by_manager.get(str(reg))
        for tier in warn_tiers:
            lead = math.nan
            if g is not None:
                hit = g[(g["rank"] >= tier_rank(tier)) & (g["as_of"] >= inc - lb)]
                hit = hit[hit["as_of"] < inc]
                if len(hit):
                    lead = float((inc - hit["as_of"].min()).days)
            row[f"lead_{tier}"] = lead
        rows.append(row)
    cols = ["register_no", "incident_date", "eligible", *[f"lead_{t}" for t in warn_tiers]]
    per = pd.DataFrame(rows, columns=cols)
    elig = per[per["eligible"].astype(bool)] if len(per) else per
    recall: dict[str, float] = {}
    warned: dict[str, int] = {}
    median: dict[str, float] = {}
    for tier in warn_tiers:
        leads = pd.to_numeric(elig[f"lead_{tier}"])
        n_warned = int((leads >= min_lead).sum())
        warned[tier] = n_warned
        recall[tier] = n_warned / len(elig) if len(elig) else math.nan
        median[tier] = float(leads.dropna().median()) if leads.notna().any() else math.nan
    return WarningResult(
        incidents=per,
        eligible=len(elig),
        recall=recall,
        warned=warned,
        median_lead=median,
        min_lead=min_lead,
        lookback=lookback,
    )


def false_alarm_rates(
    tiers: pd.DataFrame,
    incidents: pd.DataFrame,
    horizon: int = 365,
    observed_until: dt.date | None = None,
) -> dict[str, dict[str, float]]:
    """Per tier: ``{"pairs": n, "false_alarm_rate": share without incident within horizon}``.

    Pairs are (day, manager) at exactly that tier on fully observed days; managers already
    past their first incident are left out. Rate NaN when a tier has no pairs.
    """
    lab = label_scores(tiers.assign(score=0.0), incidents, horizon, observed_until)
    lab = lab[lab["observed"]]
    out: dict[str, dict[str, float]] = {}
    for tier in TIER_ORDER:
        at = lab[lab["tier"] == tier]
        n = len(at)
        out[tier] = {
            "pairs": n,
            "false_alarm_rate": float((~at["label"]).mean()) if n else math.nan,
        }
    return out


def false_alarms_at_or_above(
    tiers: pd.DataFrame,
    incidents: pd.DataFrame,
    tier: str = "orange",
    horizon: int = 365,
    observed_until: dt.date | None = None,
) -> dict[str, float]:
    """``{"pairs": n, "false_alarm_rate": share}`` of (day, manager) pairs at ``tier`` or
    above on fully observed days without an incident within ``horizon`` (NaN with no pairs)."""
    lab = label_scores(tiers.assign(score=0.0), incidents, horizon, observed_until)
    lab = lab[lab["observed"]]
    at = lab[lab["tier"].map(tier_rank) >= tier_rank(tier)]
    n = len(at)
    return {"pairs": n, "false_alarm_rate": float((~at["label"]).mean()) if n else math.nan}


def top_membership(scores: pd.DataFrame, top_share: float = 0.05) -> pd.DataFrame:
    """as_of, register_no, p_top: each manager's expected membership of the day's top
    ``top_share`` (ties at the cut broken at random in expectation; see the module doc)."""
    parts: list[pd.DataFrame] = []
    sc = scores.dropna(subset=["score"])
    for as_of, day in sc.groupby("as_of", sort=True):
        s = day["score"].to_numpy(dtype=float)
        k = max(1, math.ceil(top_share * len(s)))
        cut = np.sort(s)[::-1][k - 1]
        above = s > cut
        tied = s == cut
        p = np.where(above, 1.0, np.where(tied, (k - above.sum()) / tied.sum(), 0.0))
        parts.append(
            pd.DataFrame({"as_of": as_of, "register_no": day["register_no"].values, "p_top": p})
        )
    if not parts:
        return pd.DataFrame(columns=["as_of", "register_no", "p_top"])
    out = pd.concat(parts, ignore_index=True)
    out["as_of"] = _as_date_series(out["as_of"])
    return out


@dataclass
class TopRecallResult:
    """Per incident: did its manager reach the day's top share within ``lookback`` days?"""

    incidents: pd.DataFrame  # register_no, incident_date, eligible, p_reached
    eligible: int
    recall: float
    top_share: float
    lookback: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "eligible_incidents": self.eligible,
            "top_share": self.top_share,
            "lookback_days": self.lookback,
            "recall": _num(self.recall),
        }


def top_share_recall(
    scores: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    top_share: float = 0.05,
    lookback: int = 365,
    observed_until: dt.date | None = None,
) -> TopRecallResult:
    """Share of incidents whose manager reached the day's top ``top_share`` on some backtest
    day within ``lookback`` days before the incident (see the module doc)."""
    first = first_incidents(incidents)
    if observed_until is not None:
        first = first[first <= pd.Timestamp(observed_until)]
    top = top_membership(scores, top_share)
    days = pd.DatetimeIndex(sorted(top["as_of"].unique()))
    by_manager = {
        str(r): g for r, g in top[top["register_no"].isin(first.index)].groupby("register_no")
    }
    lb = pd.Timedelta(days=lookback)
    rows: list[dict[str, Any]] = []
    for reg, inc in first.sort_index().items():
        eligible = bool(((days >= inc - lb) & (days < inc)).any())
        g = by_manager.get(str(reg))
        # a manager not scored on a day is not in that day's top (a miss, not a gap)
        p_top = (
            g.loc[(g["as_of"] >= inc - lb) & (g["as_of"] < inc), "p_top"].to_numpy(float)
            if g is not None
            else np.array([])
        )
        p = float(1 - np.prod(1 - p_top)) if eligible else math.nan
        row = {"register_no": reg, "incident_date": inc.date(), "eligible": eligible}
        rows.append(row | {"p_reached": p})
    per = pd.DataFrame(rows, columns=["register_no", "incident_date", "eligible", "p_reached"])
    elig = per[per["eligible"].astype(bool)]
    recall = float(pd.to_numeric(elig["p_reached"]).mean()) if len(elig) else math.nan
    return TopRecallResult(per, len(elig), recall, top_share, lookback)


def recall_by_family(
    warning: WarningResult,
    top: TopRecallResult,
    family_of: Mapping[str, str],
    tier: str = "orange",
) -> dict[str, dict[str, float]]:
    """Per incident family (``family_of``: register_no -> family; others are "other"):
    incidents, the share warned >= ``warning.min_lead`` days ahead at tier >= ``tier``
    (over its eligible incidents) and the top-share recall (over its eligible incidents)."""
    col = f"lead_{tier}"
    if col not in warning.incidents:
        raise ValueError(f"tier {tier!r} is not among the warning tiers")
    warn = warning.incidents.assign(
        family=warning.incidents["register_no"].map(lambda r: family_of.get(str(r), "other"))
    )
    topi = top.incidents.assign(
        family=top.incidents["register_no"].map(lambda r: family_of.get(str(r), "other"))
    )
    out: dict[str, dict[str, float]] = {}
    for fam in sorted(set(warn["family"]) | set(topi["family"])):
        w = warn[(warn["family"] == fam) & warn["eligible"].astype(bool)]
        t = topi[(topi["family"] == fam) & topi["eligible"].astype(bool)]
        leads = pd.to_numeric(w[col])
        out[fam] = {
            "incidents": int((warn["family"] == fam).sum()),
            "eligible_warning": len(w),
            "recall_at_min_lead": float((leads >= warning.min_lead).mean()) if len(w) else math.nan,
            "eligible_top": len(t),
            "top_share_recall": float(pd.to_numeric(t["p_reached"]).mean()) if len(t) else math.nan,
        }
    return out


def benign_kind_shares(
    scores: pd.DataFrame, kind_of: Mapping[str, str], top_share: float = 0.05
) -> dict[str, dict[str, float]]:
    """Per benign kind (``kind_of``: register_no -> kind): ``managers`` (scored at least
    once), ``share_of_top`` (its expected share of the day's top) and ``in_top`` (its
    members' expected rate of landing there), averaged over days; see the module doc."""
    top = top_membership(scores, top_share)
    top["kind"] = top["register_no"].map(lambda r: kind_of.get(str(r)))
    out: dict[str, dict[str, float]] = {}
    size = top.groupby("as_of").size()
    k = np.maximum(1, np.ceil(top_share * size))
    for kind in sorted(set(kind_of.values())):
        mine = top[top["kind"] == kind]
        mass = mine.groupby("as_of")["p_top"].sum().reindex(size.index, fill_value=0.0)
        members = mine.groupby("as_of").size()
        rate = mine.groupby("as_of")["p_top"].sum() / members
        out[kind] = {
            "managers": int(mine["register_no"].nunique()),
            "share_of_top": _mean(mass / k) if len(size) else math.nan,
            "in_top": _mean(rate),
        }
    return out


def benign_outlier_share(
    scores: pd.DataFrame, benign: Iterable[str], top_share: float = 0.05
) -> dict[str, float]:
    """How much the top ``top_share`` of each day is taken by planted benign outliers.

    Returns ``{"benign_share_of_top": ..., "benign_in_top": ..., "benign_managers": n}``,
    both shares averaged over days (NaN when there are no benign outliers).
    """
    benign_set = set(benign)
    share_of_top: list[float] = []
    in_top: list[float] = []
    for _, day in scores.dropna(subset=["score"]).groupby("as_of"):
        n = len(day)
        k = max(1, math.ceil(top_share * n))
        top = day.nlargest(k, "score", keep="first")
        is_benign_top = top["register_no"].isin(benign_set)
        n_benign_day = int(day["register_no"].isin(benign_set).sum())
        share_of_top.append(float(is_benign_top.mean()))
        if n_benign_day:
            in_top.append(float(is_benign_top.sum()) / n_benign_day)
    return {
        "benign_managers": len(benign_set),
        "benign_share_of_top": _mean(pd.Series(share_of_top, dtype=float))
        if benign_set
        else math.nan,
        "benign_in_top": _mean(pd.Series(in_top, dtype=float)),
    }


def budget_matched_tiers(reference: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Tiers for a method without its own tier policy, at the same alert budget.

    On each day, if the reference (the full system) put n_red managers at red, n_orange at
    orange, ..., the ``scores`` frame's top n_red get red, the next n_orange orange, and so on.
    So recall and false-alarm rates compare methods at equal workload for the analysts.
    Returns as_of, register_no, tier.
    """
    ref = reference.copy()
    ref["as_of"] = _as_date_series(ref["as_of"])
    sc = scores.dropna(subset=["score"]).copy()
    sc["as_of"] = _as_date_series(sc["as_of"])
    counts = ref.groupby(["as_of", "tier"]).size()
    parts: list[pd.DataFrame] = []
    for as_of, day in sc.groupby("as_of", sort=True):
        # Stable sort on a shuffled-by-name order would hide ties; register_no is the tiebreak.
        day = day.sort_values(["score", "register_no"], ascending=[False, True])
        tier = np.full(len(day), None, dtype=object)
        pos = 0
        for t in TIER_ORDER:
            n = int(counts.get((as_of, t), 0))
            tier[pos : pos + n] = t
            pos += n
        parts.append(
            pd.DataFrame({"as_of": as_of, "register_no": day["register_no"].values, "tier": tier})
        )
    if not parts:
        return pd.DataFrame(columns=["as_of", "register_no", "tier"])
    return pd.concat(parts, ignore_index=True)


def tier_counts(tiers: pd.DataFrame) -> pd.DataFrame:
    """Managers per tier per day: index as_of, columns red/orange/yellow/blue."""
    t = tiers.copy()
    t["as_of"] = _as_date_series(t["as_of"])
    t = t[t["tier"].isin(TIER_ORDER)]
    counts = t.groupby(["as_of", "tier"]).size().unstack(fill_value=0)
    return counts.reindex(columns=list(TIER_ORDER), fill_value=0)


@dataclass
class MethodResult:
    """Every metric for one method (the system or a baseline)."""

    name: str
    ranking: dict[int, RankingResult]
    warning: WarningResult
    false_alarms: dict[int, dict[str, dict[str, float]]]
    benign: dict[str, float] | None
    extra: dict[str, Any] = field(default_factory=dict)
    alarms: dict[str, float] = field(default_factory=dict)  # false alarms at >= alarm_tier
    top_recall: TopRecallResult | None = None
    families: dict[str, dict[str, float]] | None = None
    benign_kinds: dict[str, dict[str, float]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ranking": {str(h): r.as_dict() for h, r in self.ranking.items()},
            "warning": self.warning.as_dict(),
            "false_alarms": {
                str(h): {t: {k: _num(v) for k, v in d.items()} for t, d in fa.items()}
                for h, fa in self.false_alarms.items()
            },
            "benign_outliers": None
            if self.benign is None
            else {k: _num(v) for k, v in self.benign.items()},
            "false_alarms_at_or_above": {k: _num(v) for k, v in self.alarms.items()},
            "top_share_recall": None if self.top_recall is None else self.top_recall.as_dict(),
            "per_family": _nested(self.families),
            "per_benign_kind": _nested(self.benign_kinds),
            **self.extra,
        }


def evaluate_method(
    name: str,
    scores: pd.DataFrame,
    tiers: pd.DataFrame,
    incidents: pd.DataFrame,
    *,
    config: EvalConfig | None = None,
    observed_until: dt.date | None = None,
    benign: Iterable[str] | None = None,
    incident_family: Mapping[str, str] | None = None,
    benign_kind: Mapping[str, str] | None = None,
) -> MethodResult:
    """All metrics of one method on the days present in ``scores``. ``incident_family``
    (register_no -> family) adds the per-family recall, ``benign_kind`` (register_no ->
    kind) the per-kind shares of the top."""
    cfg = config or EvalConfig()
    dates = sorted(pd.to_datetime(scores["as_of"]).dt.date.unique())
    ranking = {
        h: ranking_metrics(scores, incidents, h, ks=cfg.ks, observed_until=observed_until)
        for h in cfg.horizons
    }
    warning = warning_metrics(
        tiers,
        incidents,
        dates,
        warn_tiers=cfg.warn_tiers,
        min_lead=cfg.min_lead,
        lookback=cfg.lookback,
        observed_until=observed_until,
    )
    fa = {
        h: false_alarm_rates(tiers, incidents, h, observed_until)
        for h in sorted({*cfg.horizons, cfg.false_alarm_horizon})
    }
    ben = None if benign is None else benign_outlier_share(scores, benign, cfg.top_share)
    alarms = false_alarms_at_or_above(
        tiers, incidents, cfg.alarm_tier, cfg.false_alarm_horizon, observed_until
    )
    top = top_share_recall(
        scores,
        incidents,
        top_share=cfg.top_share,
        lookback=cfg.lookback,
        observed_until=observed_until,
    )
    families = None
    if incident_family is not None and cfg.alarm_tier in cfg.warn_tiers:
        families = recall_by_family(warning, top, incident_family, cfg.alarm_tier)
    kinds = None if benign_kind is None else benign_kind_shares(scores, benign_kind, cfg.top_share)
    return MethodResult(
        name,
        ranking,
        warning,
        fa,
        ben,
        alarms=alarms,
        top_recall=top,
        families=families,
        benign_kinds=kinds,
    )


def _nested(d: dict[str, dict[str, float]] | None) -> dict[str, dict[str, Any]] | None:
    return None if d is None else {k: {m: _num(v) for m, v in row.items()} for k, row in d.items()}


def _mean(s: pd.Series) -> float:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return float(s.mean()) if len(s) else math.nan


def _num(v: Any) -> Any:
    """JSON-safe number: NaN -> None, numpy scalars -> Python."""
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else round(float(v), 6)
    return v
