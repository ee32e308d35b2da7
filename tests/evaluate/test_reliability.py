"""Brier score and the reliability table of stored probabilities, on hand-made frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from watchtower.evaluate.reliability import (
    brier_score,
    calibration_line,
    reliability,
    reliability_table,
)
from watchtower.evaluate.report import calibration_html


def test_brier_known_answers() -> None:
    assert brier_score([1.0, 0.0], [1, 0]) == 0.0
    assert brier_score([0.0, 1.0], [1, 0]) == 1.0
    assert brier_score([0.2, 0.2, 0.2, 0.2, 0.2], [1, 0, 0, 0, 0]) == pytest.approx(0.16)
    assert np.isnan(brier_score([], []))


def test_reliability_table_bins_and_rates() -> None:
    p = [0.05, 0.05, 0.15, 0.95, 1.0, 0.1]
    y = [0, 1, 0, 1, 1, 1]
    table = reliability_table(p, y)
    assert len(table) == 10
    assert table["count"].tolist() == [2, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert table.loc[0, "mean_predicted"] == pytest.approx(0.05)
    assert table.loc[0, "observed_rate"] == pytest.approx(0.5)
    # 0.1 falls in [0.1, 0.2), 1.0 in the closed last bin
    assert table.loc[1, "mean_predicted"] == pytest.approx(0.125)
    assert table.loc[9, "observed_rate"] == 1.0
    assert np.isnan(table.loc[5, "mean_predicted"])


def _frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    d1, d2, late = dt.date(2022, 6, 30), dt.date(2023, 6, 30), dt.date(2024, 6, 30)
    rows = [
        (d1, "A", 0.8),  # incident within 365 days: positive
        (d1, "B", 0.1),  # no incident
        (d1, "C", None),  # no probability (fallback): counted, not scored
        (d2, "A", 0.9),  # A's incident happened before d2: dropped
        (d2, "B", 0.3),
        (late, "B", 0.5),  # not fully observed at 365 days
    ]
    scores = pd.DataFrame(rows, columns=["as_of", "register_no", "probability_12m"])
    incidents = pd.DataFrame({"register_no": ["A"], "incident_date": [dt.date(2023, 1, 1)]})
    return scores, incidents


def test_reliability_uses_fully_observed_days_and_skips_missing_probabilities() -> None:
    scores, incidents = _frame()
    rel = reliability(scores, incidents, dt.date(2024, 7, 1))
    assert rel.pairs == 4 and rel.with_probability == 3 and rel.days == 2
    assert rel.base_rate == pytest.approx(1 / 3)
    assert rel.brier == pytest.approx(((0.8 - 1) ** 2 + 0.1**2 + 0.3**2) / 3)
    assert rel.brier_reference == pytest.approx(1 / 3 * 2 / 3)
    assert int(rel.table["count"].sum()) == 3
    data = rel.as_dict()
    assert data["with_probability"] == 3 and len(data["bins"]) == 10
    assert data["bins"][8] == {
        "lower": 0.8,
        "upper": 0.9,
        "count": 1,
        "mean_predicted": 0.8,
        "observed_rate": 1.0,
    }
    assert data["bins"][5]["mean_predicted"] is None
    assert "Brier 0.0467" in calibration_line(rel)
    html = "\n".join(calibration_html(rel, "AAAA"))
    assert "data:image/png;base64,AAAA" in html and "0.8–0.9" in html


def test_no_probability_anywhere_says_so() -> None:
    scores, incidents = _frame()
    scores["probability_12m"] = None
    rel = reliability(scores, incidents, dt.date(2024, 7, 1))
    assert rel.with_probability == 0 and np.isnan(rel.brier)
    assert rel.as_dict()["brier"] is None
    assert "no stored probability" in calibration_line(rel)
    assert "too few past labels" in "\n".join(calibration_html(rel, None))
