"""Challenger vs champion: which model scores the days to come (the watchtower_retrain DAG).

The decision is :func:`decide_promotion`, a pure function of the two mean AUCs and the margin;
:func:`comparison_days` is the calendar both models are backtested on. :func:`compare_challenger`
is the thin reader around them: it loads both models and the point-in-time features and
incidents, backtests each model on those days and hands the metrics to the decision.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from watchtower.config import Settings
from watchtower.values import finite_float

__all__ = [
    "ModelComparison",
    "compare_challenger",
    "comparison_days",
    "decide_promotion",
    "mean_auc",
    "per_day_aucs",
]


@dataclasses.dataclass(frozen=True)
class ModelComparison:
    """Challenger vs champion on the same past days (``days``), labels = incidents within the
    supervised horizon after each day, known by ``as_of``. ``better``: the challenger's mean
    AUC is at least ``margin`` above the champion's. ``already_champion``: there was no
    champion, so training promoted the challenger itself."""

    as_of: dt.date
    challenger_id: str
    champion_id: str | None
    days: list[dt.date]
    challenger_auc: float | None
    champion_auc: float | None
    margin: float
    better: bool
    already_champion: bool
    reason: str
    per_day: list[dict[str, object]] = dataclasses.field(default_factory=list)


def comparison_days(as_of: dt.date, horizon_days: int) -> list[dt.date]:
    """The month ends in (as_of - horizon, as_of]: the days whose label window was still open
    at the challenger's cut-off, so it never trained on their labels."""
    start = as_of - dt.timedelta(days=horizon_days)
    return [d.date() for d in pd.date_range(start, as_of, freq="ME") if d.date() > start]


def mean_auc(aucs: Iterable[object]) -> float | None:
    """The mean of the days' AUCs that exist (a day without an incident has none)."""
    values = [v for v in (finite_float(a) for a in aucs) if v is not None]
    return sum(values) / len(values) if values else None


def decide_promotion(
    challenger_auc: float | None, champion_auc: float | None, margin: float
) -> tuple[bool, str]:
    """(better, reason): the challenger is better when its mean AUC is at least ``margin``
    above the champion's; without an AUC on either side (no incident in the window) the
    champion is kept."""
    if challenger_auc is None or champion_auc is None:
        return False, "no incident in the evaluation window: champion kept"
    if challenger_auc >= champion_auc + margin:
        return True, (
            f"challenger AUC {challenger_auc:.3f} >= champion {champion_auc:.3f} "
            f"+ margin {margin:.3f}"
        )
    return False, (
        f"challenger AUC {challenger_auc:.3f} < champion {champion_auc:.3f} + margin {margin:.3f}"
    )


def compare_challenger(
    engine: sa.Engine, settings: Settings, as_of: dt.date, challenger_id: str
) -> ModelComparison:
    """Backtest the challenger ``challenger_id`` and the champion on :func:`comparison_days`,
    point in time: features of each day from history known by that day, labels from incidents
    known by ``as_of``; then :func:`decide_promotion`.

    Raises RegistryError for an unknown challenger, or when there is no champion while the
    challenger is not one either (training promotes the first model, so a registry without a
    champion was changed by hand: promote one, then compare).
    """
    from watchtower.detect._scoring import features_at, load_catalog, load_incidents, rule_hits_fn
    from watchtower.detect.config import load_detect_config, load_promote_margin
    from watchtower.detect.registry import RegistryError, champion, get_model, load_model
    from watchtower.detect.training import evaluate_model

    detectors = settings.models_dir / "detectors.yaml"
    config = load_detect_config(detectors)
    margin = load_promote_margin(detectors)
    get_model(engine, challenger_id)  # raises RegistryError for an unknown id
    current = champion(engine)
    horizon = config.horizon_days
    days = comparison_days(as_of, horizon)
    if current is not None and current.id == challenger_id:
        return ModelComparison(
            as_of,
            challenger_id,
            None,
            days,
            None,
            None,
            margin,
            True,
            True,
            "no champion before: the challenger was promoted at training",
        )
    if current is None:
        raise RegistryError(
            f"no champion to compare challenger {challenger_id} with: promote one "
            "(watchtower models promote), then compare"
        )
    catalog = load_catalog(settings)
    hits = rule_hits_fn(settings, catalog)
    incidents = load_incidents(engine, as_of)

    def frame(d: dt.date) -> pd.DataFrame:
        return features_at(engine, catalog, d)

    def backtest(model_id: str) -> pd.DataFrame:
        model = load_model(engine, settings.artifacts_dir, model_id)
        return evaluate_model(
            model,
            days,
            frame,
            incidents,
            horizon_days=horizon,
            rule_hits_for=hits,
            known_by=as_of,
        )

    ch_table, cp_table = backtest(challenger_id), backtest(current.id)
    ch_auc = mean_auc(ch_table.get("auc", pd.Series(dtype=float)))
    cp_auc = mean_auc(cp_table.get("auc", pd.Series(dtype=float)))
    better, reason = decide_promotion(ch_auc, cp_auc, margin)
    return ModelComparison(
        as_of,
        challenger_id,
        current.id,
        days,
        ch_auc,
        cp_auc,
        margin,
        better,
        False,
        reason,
        per_day_aucs(ch_table.to_dict("records"), cp_table.to_dict("records")),
    )


def per_day_aucs(
    challenger: Sequence[dict[str, Any]], champion: Sequence[dict[str, Any]]
) -> list[dict[str, object]]:
    """One row per backtested day: its date and both models' AUC (None when missing)."""
    return [
        {
            "as_of": str(r["as_of"]),
            "challenger_auc": finite_float(r.get("auc")),
            "champion_auc": finite_float(c.get("auc")),
        }
        for r, c in zip(challenger, champion, strict=False)
    ]
