"""Calibrated risk: the 0-100 score mapped to the probability of an incident within 12 months.

The map is fitted **walk-forward on strictly past labels**. For a scoring day D it learns from
earlier scored days D' whose outcome window has closed by D (D' + 365 <= D), with the labels
known by D (``watchtower.store.labels.incident_labels(conn, known_by=D)``): a label that
becomes known after D changes nothing on D, and a window still open on D is never used (its
managers would count as negatives only because their incident has not happened yet).

- **Label** of (D', manager): its first incident lies in (D', D' + 365]; a manager whose first
  known incident is on or before D' is dropped from D' (it already happened), as in the
  evaluation (``watchtower.evaluate.metrics.label_scores``).
- **Method**: isotonic regression (scikit-learn, increasing, clipped to [0, 1] and to the range
  of past scores), so a higher score never gets a lower probability and each level is an
  observed rate of the past days (a step function: the pooled adjacent violators' means).
- **Fallback**: with fewer than ``min_positives`` positive (day, manager) pairs (default 5) the
  map is not fitted and the probability is *absent* (NULL, shown as "—"). A base rate would
  give every manager the same number whatever its score, which reads as information it is not;
  a fresh install or a world with few incidents says "no probability yet" instead.
- **Which past days**: the eligible days thinned to the last scored day of each calendar month,
  at most ``max_days`` of the most recent such months (36): a daily scheduler would otherwise
  weight 30 near-identical copies of every month, and the read stays small.

:func:`fit_calibration` is the pure function; :class:`ScoreCalibrator` the estimator following
scikit-learn's contract (``fit`` returns self, learned state ends in ``_``,
``predict_proba`` checks it is fitted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "HORIZON_DAYS",
    "MIN_POSITIVES",
    "CalibrationMap",
    "ScoreCalibrator",
    "calibration_days",
    "calibration_sample",
    "fit_calibration",
]

#: the probability's horizon: an incident within 12 months
HORIZON_DAYS = 365
#: fewer positive (day, manager) pairs than this in the past: no probability
MIN_POSITIVES = 5
#: at most this many past months (one scored day each) to fit on
MAX_DAYS = 36


@dataclass(frozen=True)
class CalibrationMap:
    """A fitted step map score -> probability (``thresholds`` increasing, ``levels`` the
    probability from each threshold on), or the fallback (``fitted`` False: no probability).
    ``samples``/``positives``: the (day, manager) pairs it was fitted on."""

    thresholds: tuple[float, ...]
    levels: tuple[float, ...]
    samples: int
    positives: int

    @property
    def fitted(self) -> bool:
        return bool(self.thresholds)

    def probabilities(self, scores: ArrayLike) -> list[float | None]:
        """The probability of each score (None for every score when not fitted, and for a
        missing score)."""
        s = np.asarray(scores, dtype=np.float64)
        if not self.fitted:
            return [None] * len(s)
        x = np.asarray(self.thresholds)
        y = np.asarray(self.levels)
        # isotonic regression interpolates linearly between its knots and clips outside
        p = np.interp(s, x, y)
        return [None if not np.isfinite(v) else float(v) for v in p]


class ScoreCalibrator(BaseEstimator):  # type: ignore[misc]
    """Isotonic calibration of risk scores (X: scores, (n,) or (n, 1); y: 0/1 outcomes).

    ``predict_proba`` returns (n, 2): P(no incident), P(incident). With fewer than
    ``min_positives`` positives, ``fit`` stores the fallback and ``predict_proba`` returns
    NaN (no probability), never a made-up rate.
    """

    def __init__(self, min_positives: int = MIN_POSITIVES) -> None:
        self.min_positives = min_positives

    def fit(self, X: ArrayLike, y: ArrayLike) -> ScoreCalibrator:
        s = _scores(X)
        t = np.asarray(y, dtype=np.float64).ravel()
        if len(s) != len(t):
            raise ValueError(f"X has {len(s)} scores, y {len(t)} outcomes")
        keep = np.isfinite(s) & np.isfinite(t)
        s, t = s[keep], t[keep]
        self.n_samples_ = len(s)
        self.n_positives_ = int((t > 0).sum())
        self.classes_ = np.array([0, 1])
        self.isotonic_: IsotonicRegression | None = None
        if self.n_positives_ >= self.min_positives and self.n_positives_ < len(s):
            iso = IsotonicRegression(increasing=True, y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.isotonic_ = iso.fit(s, (t > 0).astype(np.float64))
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        check_is_fitted(self, "n_samples_")
        s = _scores(X)
        if self.isotonic_ is None:
            p = np.full(len(s), np.nan)
        else:
            p = np.where(np.isfinite(s), self.isotonic_.predict(np.nan_to_num(s)), np.nan)
        return np.column_stack([1.0 - p, p])

    def to_map(self) -> CalibrationMap:
        """The fitted map as plain numbers (the isotonic knots)."""
        check_is_fitted(self, "n_samples_")
        iso = self.isotonic_
        if iso is None:
            return CalibrationMap((), (), self.n_samples_, self.n_positives_)
        return CalibrationMap(
            tuple(float(v) for v in iso.X_thresholds_),
            tuple(float(v) for v in iso.y_thresholds_),
            self.n_samples_,
            self.n_positives_,
        )


def _scores(X: ArrayLike) -> NDArray[np.float64]:
    s = np.asarray(X, dtype=np.float64)
    if s.ndim == 2:
        if s.shape[1] != 1:
            raise ValueError(f"one score column expected, got {s.shape[1]}")
        s = s[:, 0]
    return s.ravel()


def fit_calibration(
    scores: ArrayLike, outcomes: ArrayLike, *, min_positives: int = MIN_POSITIVES
) -> CalibrationMap:
    """The isotonic map of ``scores`` to ``outcomes`` (0/1), or the fallback (not fitted)
    with fewer than ``min_positives`` positives (or no negative)."""
    return ScoreCalibrator(min_positives=min_positives).fit(scores, outcomes).to_map()


def calibration_days(
    scored_days: Sequence[dt.date], day: dt.date, *, max_days: int = MAX_DAYS
) -> list[dt.date]:
    """The past scored days to fit ``day``'s map on: D' + 365 <= ``day``, the last of each
    calendar month, the ``max_days`` most recent months."""
    cutoff = day - dt.timedelta(days=HORIZON_DAYS)
    last: dict[tuple[int, int], dt.date] = {}
    for d in sorted(set(scored_days)):
        if d <= cutoff:
            last[(d.year, d.month)] = d
    return sorted(last.values())[-max_days:] if max_days > 0 else []


def calibration_sample(
    scores: pd.DataFrame, labels: pd.DataFrame, day: dt.date
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(scores, outcomes) of the past (day, manager) pairs usable on ``day``.

    ``scores``: as_of, register_no, score of past days; ``labels``: register_no,
    incident_date of the labels known by ``day`` (the caller reads them with
    ``known_by=day``). Days with D' + 365 > ``day`` are dropped here too, so a caller cannot
    leak an open window.
    """
    if scores.empty:
        return np.empty(0), np.empty(0)
    frame = scores[["as_of", "register_no", "score"]].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    horizon = pd.Timedelta(days=HORIZON_DAYS)
    frame = frame[frame["as_of"] + horizon <= pd.Timestamp(day)]
    first = _first_incidents(labels)
    incident = pd.to_datetime(frame["register_no"].map(first))
    frame = frame[~(incident.notna() & (incident <= frame["as_of"]))]
    incident = incident.loc[frame.index]
    positive = incident.notna() & (incident <= frame["as_of"] + horizon)
    return frame["score"].to_numpy(dtype=np.float64), positive.to_numpy(dtype=np.float64)


def _first_incidents(labels: pd.DataFrame) -> dict[Any, pd.Timestamp]:
    if labels.empty:
        return {}
    known = labels.dropna(subset=["register_no", "incident_date"])
    dates = pd.to_datetime(known["incident_date"])
    return {str(k): v for k, v in dates.groupby(known["register_no"].astype(str)).min().items()}
