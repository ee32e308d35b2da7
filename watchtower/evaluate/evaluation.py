"""Evaluation of stored backtest days: the system against its two baselines, same run, same days.

Reads ``risk_scores`` and ``manager_tiers`` of the backtest days (written by
``watchtower backtest``), the stored feature snapshots (for the IForest baseline), and the
labels; computes :mod:`watchtower.evaluate.metrics` for each method.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from watchtower.evaluate.baselines import iforest_scores, rules_only_scores
from watchtower.evaluate.labels import Labels, benign_kinds, benign_outliers, incident_families
from watchtower.evaluate.metrics import (
    EvalConfig,
    MethodResult,
    budget_matched_tiers,
    evaluate_method,
    pooled_pr_curve,
    tier_counts,
)
from watchtower.evaluate.reliability import ReliabilityResult, reliability
from watchtower.store.alerts import manager_tiers
from watchtower.store.schema import HISTORY
from watchtower.store.scoring import risk_scores

#: Method keys in report order, with their display names (en, zh).
METHODS: dict[str, tuple[str, str]] = {
    "watchtower": ("Watchtower (rules + ensemble)", "Watchtower(规则+集成模型)"),
    "rules_only": ("Rules only", "仅规则"),
    "iforest": ("Single IForest, raw features", "单一孤立森林(原始特征)"),
}


class EvaluationError(ValueError):
    """Nothing to evaluate (no backtest days, no labels); the message says what to run."""


@dataclass
class Evaluation:
    """Everything an evaluation computed; :meth:`as_dict` is the JSON report."""

    start: dt.date
    end: dt.date
    dates: list[dt.date]
    observed_until: dt.date
    labels_source: str
    incidents: int
    managers: int
    config: EvalConfig
    methods: dict[str, MethodResult]
    tier_counts: pd.DataFrame  # index as_of, columns red..blue (the system's tiers)
    pr_curves: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]
    benign_managers: int | None = None
    notes: list[str] = field(default_factory=list)
    world_family: dict[str, Any] | None = None  # a synthetic world's _truth/family.json
    #: the stored probabilities' Brier score and reliability table (365 days, observed days)
    calibration: ReliabilityResult | None = None

    def as_dict(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "start": str(self.start),
            "end": str(self.end),
            "dates": [str(d) for d in self.dates],
            "observed_until": str(self.observed_until),
            "labels": self.labels_source,
            "incidents": self.incidents,
            "managers": self.managers,
            "benign_outliers": self.benign_managers,
            "world_family": self.world_family,
            "config": {
                "horizons_days": list(cfg.horizons),
                "precision_at_k": list(cfg.ks),
                "min_lead_days": cfg.min_lead,
                "lookback_days": cfg.lookback,
                "warn_tiers": list(cfg.warn_tiers),
                "top_share": cfg.top_share,
                "false_alarm_horizon_days": cfg.false_alarm_horizon,
                "alarm_tier": cfg.alarm_tier,
            },
            "methods": {k: m.as_dict() for k, m in self.methods.items()},
            "tier_counts": {
                str(pd.Timestamp(str(d)).date()): {t: int(v) for t, v in row.items()}
                for d, row in self.tier_counts.iterrows()
            },
            "notes": list(self.notes),
            "calibration": None if self.calibration is None else self.calibration.as_dict(),
        }


#: the columns of :func:`load_scores`
SCORE_COLUMNS = ["as_of", "register_no", "score", "rule_score", "reasons", "probability_12m"]


def load_scores(engine: sa.Engine, start: dt.date, end: dt.date) -> pd.DataFrame:
    """risk_scores of days in [start, end]: as_of, register_no, score, rule_score, reasons,
    probability_12m."""
    t = risk_scores
    q = sa.select(*(t.c[c] for c in SCORE_COLUMNS)).where(t.c.as_of >= start, t.c.as_of <= end)
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def load_tiers(engine: sa.Engine, start: dt.date, end: dt.date) -> pd.DataFrame:
    """manager_tiers of days in [start, end]: as_of, register_no, tier (None = no tier)."""
    t = manager_tiers
    q = sa.select(t.c.as_of, t.c.register_no, t.c.tier).where(t.c.as_of >= start, t.c.as_of <= end)
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    return pd.DataFrame(rows, columns=["as_of", "register_no", "tier"])


def stored_days(engine: sa.Engine) -> list[dt.date]:
    """Days that have both risk scores and tiers (backtested or run by the scheduler)."""
    with engine.connect() as conn:
        scored = set(conn.execute(sa.select(risk_scores.c.as_of).distinct()).scalars())
        tiered = set(conn.execute(sa.select(manager_tiers.c.as_of).distinct()).scalars())
    return sorted(scored & tiered)


def data_end(engine: sa.Engine) -> dt.date | None:
    """The last day the store holds data for (latest known_from of manager snapshots or
    incidents): incidents are taken as observed up to here."""
    with engine.connect() as conn:
        ends = [
            conn.execute(sa.select(sa.func.max(HISTORY[s].c.known_from))).scalar()
            for s in ("managers", "incidents")
        ]
    known = [e for e in ends if e is not None]
    return max(known) if known else None


def evaluate_store(
    engine: sa.Engine,
    labels: Labels,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    truth: pd.DataFrame | None = None,
    observed_until: dt.date | None = None,
    config: EvalConfig | None = None,
    load_features_day: Callable[[dt.date], pd.DataFrame] | None = None,
    raw_features: Sequence[str] | None = None,
    world_family: dict[str, Any] | None = None,
) -> Evaluation:
    """Evaluate the stored days in [start, end] (default: all) against ``labels``.

    ``truth``: a synthetic world's scenarios (for the benign-outlier metrics, per kind, and
    the recall per incident family); ``world_family``: its family record, reported as is.
    ``observed_until``: the last day incidents are known for (default: the store's data end,
    else the latest incident or day). ``load_features_day``: the stored feature snapshot of a
    day (for the IForest baseline; skipped when None). ``raw_features``: its columns.
    """
    cfg = config or EvalConfig()
    days = stored_days(engine)
    if start is not None:
        days = [d for d in days if d >= start]
    if end is not None:
        days = [d for d in days if d <= end]
    if not days:
        where = f" between {start or '-'} and {end or '-'}" if start or end else ""
        raise EvaluationError(
            f"no scored and tiered days in the store{where}; run `watchtower backtest "
            "--start D --end D` first"
        )
    first, last = days[0], days[-1]
    scores = load_scores(engine, first, last)
    scores = scores[scores["as_of"].isin(days)].reset_index(drop=True)
    tiers = load_tiers(engine, first, last)
    tiers = tiers[tiers["as_of"].isin(days)].reset_index(drop=True)
    incidents = labels.incidents
    notes: list[str] = []
    if observed_until is None:
        candidates = [data_end(engine), last]
        if len(incidents):
            candidates.append(max(incidents["incident_date"]))
        observed_until = max(d for d in candidates if d is not None)
    if incidents.empty:
        notes.append("no incidents in the labels: ranking metrics are undefined")

    benign = benign_outliers(truth) if truth is not None else None
    families = incident_families(truth) if truth is not None else None
    kinds = benign_kinds(truth) if truth is not None else None
    main_scores = scores[["as_of", "register_no", "score"]]
    methods: dict[str, MethodResult] = {}
    method_scores: dict[str, pd.DataFrame] = {"watchtower": main_scores}
    method_tiers: dict[str, pd.DataFrame] = {"watchtower": tiers}

    rules = rules_only_scores(scores)
    method_scores["rules_only"] = rules
    method_tiers["rules_only"] = budget_matched_tiers(tiers, rules)
    if load_features_day is not None:
        forest = iforest_scores(days, load_features_day, raw_features)
        if forest.empty:
            notes.append("no stored feature snapshots for these days: IForest baseline skipped")
        else:
            # Same managers as the system on each day.
            keys = main_scores[["as_of", "register_no"]]
            forest = forest.merge(keys, on=["as_of", "register_no"], how="inner")
            method_scores["iforest"] = forest
            method_tiers["iforest"] = budget_matched_tiers(tiers, forest)

    curves: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for key, sc in method_scores.items():
        methods[key] = evaluate_method(
            key,
            sc,
            method_tiers[key],
            incidents,
            config=cfg,
            observed_until=observed_until,
            benign=benign,
            incident_family=families,
            benign_kind=kinds,
        )
        curves[key] = {h: pooled_pr_curve(sc, incidents, h, observed_until) for h in cfg.horizons}
    managers = int(scores["register_no"].nunique())
    calibration = reliability(scores, incidents, observed_until)
    return Evaluation(
        start=first,
        end=last,
        dates=days,
        observed_until=observed_until,
        labels_source=labels.source,
        incidents=int(incidents["register_no"].nunique()) if len(incidents) else 0,
        managers=managers,
        config=cfg,
        methods=methods,
        tier_counts=tier_counts(tiers),
        pr_curves=curves,
        benign_managers=None if benign is None else len(benign),
        notes=notes,
        world_family=world_family,
        calibration=calibration,
    )
