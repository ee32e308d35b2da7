"""Reliability of the stored probabilities (``risk_scores.probability_12m``): pure functions on
plain frames.

- Pairs: (day, manager) on **fully observed** days for the 365-day horizon (D + 365 <=
  observed_until), labelled as in :func:`watchtower.evaluate.metrics.label_scores` (first
  incident in (D, D + 365]; managers past their incident dropped). Pairs without a
  probability (the calibration's fallback: too few past labels) are counted, not scored.
- **Brier score**: mean of (p - y)^2 over the pairs with a probability (0 is perfect; always
  saying the base rate b scores b(1 - b), given beside it as ``brier_reference``).
- **Reliability table**: 10 equal-width bins of the predicted probability on [0, 1] (the last
  bin closed), each with its count, mean predicted probability and observed incident rate; a
  calibrated model has the two equal in every bin with enough pairs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from watchtower.evaluate.metrics import label_scores

__all__ = [
    "ReliabilityResult",
    "brier_score",
    "calibration_line",
    "reliability",
    "reliability_table",
]

#: the probability's horizon (days) and the number of bins of the reliability table
HORIZON = 365
BINS = 10


def brier_score(probabilities: Any, outcomes: Any) -> float:
    """Mean squared difference of probabilities and 0/1 outcomes (NaN when empty)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def reliability_table(probabilities: Any, outcomes: Any, bins: int = BINS) -> pd.DataFrame:
    """One row per bin [k/bins, (k+1)/bins) (the last one includes 1): ``lower``, ``upper``,
    ``count``, ``mean_predicted``, ``observed_rate`` (NaN in an empty bin)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(outcomes, dtype=np.float64)
    index = np.minimum((p * bins).astype(int), bins - 1) if len(p) else np.empty(0, dtype=int)
    rows = []
    for k in range(bins):
        mask = index == k
        n = int(mask.sum())
        rows.append(
            {
                "lower": k / bins,
                "upper": (k + 1) / bins,
                "count": n,
                "mean_predicted": float(p[mask].mean()) if n else float("nan"),
                "observed_rate": float(y[mask].mean()) if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class ReliabilityResult:
    """Brier score and reliability table of the probabilities on fully observed days."""

    horizon: int
    pairs: int  # labelled (day, manager) pairs on fully observed days
    with_probability: int  # of which with a stored probability
    days: int  # fully observed days with at least one probability
    base_rate: float
    brier: float
    brier_reference: float  # the Brier score of always saying the base rate
    table: pd.DataFrame = field(default_factory=lambda: reliability_table([], []))

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon_days": self.horizon,
            "pairs": self.pairs,
            "with_probability": self.with_probability,
            "days": self.days,
            "base_rate": _num(self.base_rate),
            "brier": _num(self.brier),
            "brier_reference": _num(self.brier_reference),
            "bins": [
                {k: _num(v) if isinstance(v, float) else int(v) for k, v in row.items()}
                for row in self.table.to_dict("records")
            ],
        }


def reliability(
    scores: pd.DataFrame,
    incidents: pd.DataFrame,
    observed_until: dt.date | None,
    *,
    horizon: int = HORIZON,
    bins: int = BINS,
) -> ReliabilityResult:
    """The reliability of ``scores``' ``probability_12m`` (columns as_of, register_no,
    probability_12m; NaN/None: no probability) against ``incidents``."""
    frame = scores[["as_of", "register_no", "probability_12m"]]
    labelled = label_scores(frame, incidents, horizon, observed_until)
    seen = labelled[labelled["observed"]]
    p = pd.to_numeric(seen["probability_12m"], errors="coerce")
    have = seen[p.notna()]
    prob = p[p.notna()].to_numpy(dtype=np.float64)
    y = have["label"].to_numpy(dtype=np.float64)
    base = float(y.mean()) if len(y) else float("nan")
    return ReliabilityResult(
        horizon=horizon,
        pairs=len(seen),
        with_probability=len(have),
        days=int(have["as_of"].nunique()),
        base_rate=base,
        brier=brier_score(prob, y),
        brier_reference=base * (1 - base) if len(y) else float("nan"),
        table=reliability_table(prob, y, bins),
    )


def calibration_line(rel: ReliabilityResult | None) -> str:
    """One line for the terminal: the Brier score beside the base-rate reference."""
    if rel is None or not rel.with_probability:
        return (
            "Calibration 校准: no stored probability on a fully observed day (365 days): too "
            "few past labels"
        )
    return (
        f"Calibration 校准 (12个月内出险概率): Brier {rel.brier:.4f} (base rate "
        f"{rel.base_rate:.3f} always: {rel.brier_reference:.4f}) on {rel.with_probability} of "
        f"{rel.pairs} pairs, {rel.days} fully observed days; reliability plot in the report"
    )


def _num(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 6)
