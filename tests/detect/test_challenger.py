"""Challenger vs champion: the calendar and the decision, over plain numbers (no database)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from watchtower.detect.challenger import (
    comparison_days,
    decide_promotion,
    mean_auc,
    per_day_aucs,
)
from watchtower.detect.config import (
    DEFAULT_PROMOTE_MARGIN,
    DetectConfigError,
    load_promote_margin,
)


def test_comparison_days_are_the_month_ends_of_the_open_label_window() -> None:
    days = comparison_days(dt.date(2024, 6, 30), 90)
    assert days == [dt.date(2024, 4, 30), dt.date(2024, 5, 31), dt.date(2024, 6, 30)]
    # the first day of the window is left out: its label window closed at the cut-off
    assert comparison_days(dt.date(2024, 5, 31), 31) == [dt.date(2024, 5, 31)]
    assert comparison_days(dt.date(2024, 5, 15), 10) == []


def test_mean_auc_ignores_days_without_one() -> None:
    assert mean_auc([0.6, math.nan, 0.8, None]) == pytest.approx(0.7)
    assert mean_auc([math.nan]) is None and mean_auc([]) is None


@pytest.mark.parametrize(
    ("challenger", "champion", "better", "starts"),
    [
        (0.80, 0.70, True, "challenger AUC 0.800 >= champion 0.700 + margin 0.010"),
        (0.71, 0.70, True, "challenger AUC 0.710 >= champion 0.700"),  # exactly the margin
        (0.705, 0.70, False, "challenger AUC 0.705 < champion 0.700 + margin 0.010"),
        (None, 0.70, False, "no incident in the evaluation window: champion kept"),
        (0.80, None, False, "no incident in the evaluation window: champion kept"),
    ],
)
def test_decide_promotion(
    challenger: float | None, champion: float | None, better: bool, starts: str
) -> None:
    got, reason = decide_promotion(challenger, champion, 0.01)
    assert got is better and reason.startswith(starts)


def test_per_day_aucs_pairs_the_days_and_drops_nan() -> None:
    rows = per_day_aucs(
        [{"as_of": dt.date(2024, 1, 31), "auc": 0.7}, {"as_of": dt.date(2024, 2, 29)}],
        [{"as_of": dt.date(2024, 1, 31), "auc": math.nan}, {"as_of": dt.date(2024, 2, 29)}],
    )
    assert rows == [
        {"as_of": "2024-01-31", "challenger_auc": 0.7, "champion_auc": None},
        {"as_of": "2024-02-29", "challenger_auc": None, "champion_auc": None},
    ]


def test_promote_margin(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    path.write_text("retrain:\n  promote_margin: 0.05\n", encoding="utf-8")
    assert load_promote_margin(path) == 0.05
    # no retrain section: the default (``detectors`` is no key of the file: one reader
    # checks every key, the margin's as well as the detectors')
    path.write_text("version: 1\n", encoding="utf-8")
    assert load_promote_margin(path) == DEFAULT_PROMOTE_MARGIN
    path.write_text("detectors: []\n", encoding="utf-8")
    with pytest.raises(DetectConfigError, match="detectors"):
        load_promote_margin(path)
    path.write_text("retrain:\n  promote_margin: high\n", encoding="utf-8")
    with pytest.raises(DetectConfigError, match=r"retrain\.promote_margin must be a number"):
        load_promote_margin(path)
