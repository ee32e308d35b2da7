"""The optional supervised layer: learns from confirmed incidents, with strictly past labels.

A training row is (manager, snapshot day d): the manager's risky-direction feature deviations
as of d, labelled 1 when an incident of that manager falls in ``(d, d + horizon]``. Only days
whose whole label window ends on or before the training cut-off are used
(``d + horizon <= cutoff``), and incidents are read as known on the cut-off, so no label can
depend on anything after the cut-off. Managers whose incident happened on or before ``d`` are
left out of that day (they are no longer something to foresee).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from watchtower.clock import month_end_on_or_before

__all__ = [
    "RETRAIN_SCHEDULES",
    "credibility",
    "label_days",
    "label_snapshot",
    "make_classifier",
    "month_end_days",
    "retrain_cutoff",
]

#: ``supervised.retrain_every`` of models/detectors.yaml: how often the walk-forward layer
#: (scoring without a champion) is retrained; its cut-off is the period end on or before the
#: scored day.
RETRAIN_SCHEDULES = ("monthly", "quarterly")


def make_classifier(estimator: str, params: dict[str, Any]) -> BaseEstimator:
    """An unfitted scikit-learn classifier: ``logistic`` (class-balanced L2 logistic
    regression) or ``gradient_boosting`` (histogram gradient boosting)."""
    if estimator == "logistic":
        base: BaseEstimator = LogisticRegression(class_weight="balanced", max_iter=2000, C=1.0)
    elif estimator == "gradient_boosting":
        base = HistGradientBoostingClassifier(
            max_depth=3, learning_rate=0.05, max_iter=200, class_weight="balanced", random_state=0
        )
    else:
        raise ValueError(f"unknown supervised estimator {estimator!r}")
    return clone(base).set_params(**params)


def label_days(
    cutoff: dt.date, horizon_days: int, every_days: int, lookback_days: int
) -> list[dt.date]:
    """Snapshot days for training, oldest first: ``cutoff - horizon - k * every`` for k = 0..,
    not before ``cutoff - lookback``. Every returned day d has ``d + horizon <= cutoff``."""
    last = cutoff - dt.timedelta(days=horizon_days)
    first = cutoff - dt.timedelta(days=lookback_days)
    days: list[dt.date] = []
    d = last
    while d >= first:
        days.append(d)
        d -= dt.timedelta(days=every_days)
    return sorted(days)


def retrain_cutoff(day: dt.date, every: str = "monthly") -> dt.date:
    """The walk-forward cut-off C for scoring ``day``: the month end (``monthly``) or quarter
    end (``quarterly``) on or before ``day`` (``day`` itself when it is one). Every day of one
    period shares C, so they share one supervised layer, trained once."""
    if every not in RETRAIN_SCHEDULES:
        raise ValueError(f"retrain_every: one of {', '.join(RETRAIN_SCHEDULES)}, not {every!r}")
    step = 1 if every == "monthly" else 3
    end = month_end_on_or_before(day)
    while end.month % step:  # back to the period's last month end
        end = month_end_on_or_before(end.replace(day=1) - dt.timedelta(days=1))
    return end


def month_end_days(cutoff: dt.date, horizon_days: int, lookback_days: int) -> list[dt.date]:
    """Training snapshot days of the walk-forward layer, oldest first: the month ends d with
    ``cutoff - lookback <= d`` and ``d + horizon <= cutoff`` (each label window fully elapsed
    by C). Month ends, so the stored feature snapshots of one retrain are those of the next
    (C moves by a month, the window by one snapshot) and of month-end backtest days."""
    last = cutoff - dt.timedelta(days=horizon_days)
    first = cutoff - dt.timedelta(days=lookback_days)
    return [d.date() for d in pd.date_range(first, last, freq="ME")]


def credibility(positives: int, half_at: int) -> float:
    """The share of its configured weight a supervised layer fitted on ``positives`` positive
    rows gets: ``positives / (positives + half_at)`` (credibility weighting: half weight at
    ``half_at`` positives, approaching full weight as labels accumulate). A layer learnt from
    a handful of incidents is mostly noise; it should nudge the ranking, not steer it."""
    if positives <= 0:
        return 0.0
    return positives / (positives + max(half_at, 0))


def label_snapshot(
    index: pd.Index, day: dt.date, incidents: pd.DataFrame, horizon_days: int, cutoff: dt.date
) -> pd.Series:
    """Labels (0/1, int) for managers ``index`` on snapshot ``day``; managers already hit by an
    incident on or before ``day`` are dropped (absent from the result).

    ``incidents``: columns register_no, incident_date (datetime.date). Raises ValueError when
    the label window reaches past ``cutoff`` (that label would not be known yet).
    """
    end = day + dt.timedelta(days=horizon_days)
    if end > cutoff:
        raise ValueError(
            f"label window {day}..{end} ends after the cut-off {cutoff}: not known yet"
        )
    inc = incidents[incidents["incident_date"] <= cutoff]
    past = set(inc.loc[inc["incident_date"] <= day, "register_no"])
    window = inc[(inc["incident_date"] > day) & (inc["incident_date"] <= end)]
    positive = set(window["register_no"])
    keep = [r for r in index if r not in past]
    return pd.Series(
        [int(r in positive) for r in keep], index=pd.Index(keep, name=index.name), dtype=int
    )


# scikit-learn ships no type stubs, so its base classes are Any to mypy.
class SupervisedLayer(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """A classifier over deviation columns, remembering which columns it was fitted on.

    ``predict_risk(D)`` gives P(incident within the horizon) in [0, 1] per row of ``D``.
    """

    def __init__(self, estimator: str = "logistic", params: dict[str, Any] | None = None) -> None:
        self.estimator = estimator
        self.params = params

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> SupervisedLayer:
        """Fit on deviations ``X`` (rows x features) and labels ``y`` (0/1)."""
        y_arr = np.asarray(y, dtype=int)
        if len(np.unique(y_arr)) < 2:
            raise ValueError("supervised layer needs both positive and negative examples")
        self.columns_ = list(X.columns)
        self.model_ = make_classifier(self.estimator, dict(self.params or {}))
        self.model_.fit(X.to_numpy(dtype=float), y_arr)
        self.classes_ = np.array([0, 1])
        return self

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """P(incident within horizon) per row, shape (n,)."""
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"supervised layer needs feature(s) {missing}")
        proba = self.model_.predict_proba(X[self.columns_].to_numpy(dtype=float))
        return np.asarray(proba[:, 1], dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities (n, 2)."""
        p = self.predict_risk(X)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """0/1 at probability 0.5."""
        return (self.predict_risk(X) >= 0.5).astype(int)
