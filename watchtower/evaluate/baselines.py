"""The two simpler alternatives every evaluation reports beside the full system.

- **rules only**: rank managers by the stored ``rule_score`` of the day (the rule component of
  the system's own score); where it is missing, by the summed severity of the rule reasons.
- **single IForest**: one pyod ``IForest`` fitted per day on that day's stored feature
  snapshot, raw features only (peer-percentile features left out), no feature directions, no
  peer groups; missing values filled with the day's column median. Its score is pyod's
  outlier score (higher = more unusual).

Both return frames ``as_of, register_no, score`` for the same days and managers as the system.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

IFOREST_SEED = 0
IFOREST_TREES = 100


def rules_only_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Rules-only baseline from stored risk scores.

    ``scores``: as_of, register_no, rule_score (may be NaN), reasons (list of dicts with
    ``kind`` and ``severity``; optional). Returns as_of, register_no, score.
    """
    out = scores[["as_of", "register_no"]].copy()
    rule = (
        pd.to_numeric(scores["rule_score"], errors="coerce")
        if "rule_score" in scores
        else pd.Series(np.nan, index=scores.index)
    )
    if rule.isna().any() and "reasons" in scores:
        fallback = scores["reasons"].map(_rule_severity)
        rule = rule.fillna(fallback)
    out["score"] = rule.fillna(0.0).astype(float)
    return out


def _rule_severity(reasons: Any) -> float:
    if not isinstance(reasons, list):
        return 0.0
    total = 0.0
    for r in reasons:
        if isinstance(r, dict) and r.get("kind") == "rule":
            try:
                total += float(r.get("severity") or 1.0)
            except (TypeError, ValueError):
                total += 1.0
    return total


def iforest_day(values: pd.DataFrame, *, seed: int = IFOREST_SEED) -> pd.Series:
    """pyod IForest outlier scores of one day's raw features (index register_no).

    ``values``: float feature columns only. All-missing columns are dropped, other gaps filled
    with the column median. Returns a float Series on the same index (0 when < 2 rows or no
    usable column).
    """
    from pyod.models.iforest import IForest

    x = values.apply(pd.to_numeric, errors="coerce").astype(float)
    x = x.loc[:, x.notna().any()]
    if len(x) < 2 or x.shape[1] == 0:
        return pd.Series(0.0, index=values.index)
    x = x.fillna(x.median())
    x = x.loc[:, x.nunique() > 1]
    if x.shape[1] == 0:
        return pd.Series(0.0, index=values.index)
    model = IForest(n_estimators=IFOREST_TREES, random_state=seed, n_jobs=1)
    model.fit(x.to_numpy())
    return pd.Series(np.asarray(model.decision_scores_, dtype=float), index=values.index)


def iforest_scores(
    dates: Iterable[dt.date],
    load_day: Callable[[dt.date], pd.DataFrame],
    raw_features: Sequence[str] | None = None,
    *,
    seed: int = IFOREST_SEED,
) -> pd.DataFrame:
    """Single-IForest baseline over ``dates``.

    ``load_day(d)``: the stored feature snapshot of day d (index register_no; metadata and
    feature columns). ``raw_features``: the columns to use (default: every float column).
    Returns as_of, register_no, score.
    """
    parts: list[pd.DataFrame] = []
    for d in dates:
        snap = load_day(d)
        if snap.empty:
            continue
        if raw_features is None:
            cols = [c for c in snap.columns if pd.api.types.is_float_dtype(snap[c])]
        else:
            cols = [c for c in raw_features if c in snap.columns]
        s = iforest_day(snap[cols], seed=seed)
        parts.append(pd.DataFrame({"as_of": d, "register_no": s.index.astype(str), "score": s}))
    if not parts:
        return pd.DataFrame(columns=["as_of", "register_no", "score"])
    return pd.concat(parts, ignore_index=True)
