"""Calibration of the score to P(incident within 12 months): known answers, monotonicity, the
fallback, and point in time (walk-forward on strictly past, closed, known labels)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from tests.store_rows import loaded_batch
from watchtower.detect.calibration import (
    ScoreCalibrator,
    calibration_days,
    calibration_sample,
    fit_calibration,
)


def _calibrated_world() -> tuple[np.ndarray, np.ndarray, dict[float, float]]:
    """Scores 10, 30, 50, 70, 90 with 20 cases each, of which exactly score/100 are incidents:
    a perfectly calibrated score."""
    scores, outcomes, rates = [], [], {}
    for s in (10.0, 30.0, 50.0, 70.0, 90.0):
        positives = int(s / 100 * 20)
        scores += [s] * 20
        outcomes += [1.0] * positives + [0.0] * (20 - positives)
        rates[s] = s / 100
    return np.array(scores), np.array(outcomes), rates


def test_a_perfectly_calibrated_score_recovers_its_rates() -> None:
    x, y, rates = _calibrated_world()
    cmap = fit_calibration(x, y)
    assert cmap.fitted and cmap.samples == 100 and cmap.positives == 50
    got = cmap.probabilities(list(rates))
    assert got == pytest.approx(list(rates.values()))
    # outside the past range: clipped to the end levels, never extrapolated
    assert cmap.probabilities([0.0, 100.0]) == pytest.approx([0.1, 0.9])


def test_the_estimator_follows_the_contract_and_agrees_with_the_function() -> None:
    x, y, rates = _calibrated_world()
    est = ScoreCalibrator()
    with pytest.raises(NotFittedError):
        est.predict_proba([[50.0]])
    assert est.fit(x.reshape(-1, 1), y) is est
    proba = est.predict_proba(np.array([[10.0], [50.0], [90.0]]))
    assert proba.shape == (3, 2)
    assert proba[:, 1] == pytest.approx([rates[10.0], rates[50.0], rates[90.0]])
    assert est.to_map() == fit_calibration(x, y)
    assert proba.sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert est.get_params() == {"min_positives": 5}


def test_the_map_is_monotone_even_when_past_rates_are_not() -> None:
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 100, 2000)
    # noisy, non-monotone true rate: a dip in the middle
    rate = np.clip(x / 100 - 0.3 * np.exp(-(((x - 50) / 8) ** 2)), 0.01, 0.99)
    y = (rng.uniform(size=x.size) < rate).astype(float)
    p = np.array(fit_calibration(x, y).probabilities(np.linspace(0, 100, 201)))
    assert np.all(np.diff(p) >= 0)
    assert p.min() >= 0.0 and p.max() <= 1.0
    # a known-rate pooled level: the lowest decile is far below the highest
    assert p[-1] - p[0] > 0.5


def test_too_few_positives_means_no_probability_not_a_made_up_rate() -> None:
    x = np.arange(100, dtype=float)
    y = np.zeros(100)
    y[[90, 95, 99, 97]] = 1.0  # four positives, one under the minimum
    cmap = fit_calibration(x, y)
    assert not cmap.fitted and cmap.positives == 4
    assert cmap.probabilities([10.0, 99.0]) == [None, None]
    proba = ScoreCalibrator().fit(x, y).predict_proba(x[:2])
    assert np.isnan(proba).all()
    y[50] = 1.0
    assert fit_calibration(x, y).fitted
    assert fit_calibration([], []).probabilities([50.0]) == [None]


def _past_scores() -> pd.DataFrame:
    days = [dt.date(2022, 6, 30), dt.date(2023, 6, 30), dt.date(2024, 6, 30)]
    return pd.DataFrame(
        [(d, f"M{i}", float(i)) for d in days for i in range(10)],
        columns=["as_of", "register_no", "score"],
    )


def test_only_days_whose_window_closed_by_d_are_used() -> None:
    day = dt.date(2024, 6, 30)
    labels = pd.DataFrame({"register_no": ["M9"], "incident_date": [dt.date(2023, 3, 1)]})
    x, y = calibration_sample(_past_scores(), labels, day)
    # 2022-06-30 (+365 <= D) and 2023-06-30 (2023-06-30 + 365 = 2024-06-29 <= D) qualify;
    # 2024-06-30 does not; M9's incident (2023-03-01) is positive on 2022-06-30 and drops it
    # from 2023-06-30 on (it already happened)
    assert len(x) == 10 + 9
    assert y.sum() == 1.0 and x[y == 1.0].tolist() == [9.0]
    assert calibration_days(
        [dt.date(2023, 1, 31), dt.date(2023, 1, 15), dt.date(2023, 2, 28), dt.date(2024, 1, 31)],
        dt.date(2024, 2, 1),
    ) == [dt.date(2023, 1, 31)]
    assert calibration_days([dt.date(2023, 1, 31)], dt.date(2024, 1, 30)) == []


def test_an_incident_after_the_window_is_a_negative() -> None:
    day = dt.date(2024, 6, 30)
    late = pd.DataFrame({"register_no": ["M5"], "incident_date": [dt.date(2023, 7, 1)]})
    x, y = calibration_sample(_past_scores(), late, day)
    # 2022-06-30 + 365 = 2023-06-30 < 2023-07-01: not within 12 months of 2022-06-30;
    # within (2023-06-30, 2024-06-29] of the second day
    assert len(x) == 20  # nobody is past an incident on either day
    first_day = y[:10]
    assert first_day.sum() == 0.0
    assert y.sum() == 1.0


def test_a_label_known_after_d_changes_nothing_on_d(tmp_path: Path) -> None:
    """Point in time through the store: the map of D reads labels with known_by=D."""
    from watchtower.detect._scoring import calibration_at
    from watchtower.store import open_store
    from watchtower.store.schema import incidents
    from watchtower.store.scoring import risk_scores

    engine = open_store(f"sqlite:///{tmp_path}/wt.db")
    past = dt.date(2022, 6, 30)
    day = dt.date(2023, 12, 31)
    rows = [
        {
            "as_of": past,
            "register_no": f"P{i:07d}",
            "score": float(i),
            "rule_hits": [],
            "reasons": [],
            "model_id": "m",
            "feature_set_version": "1",
            "created_at": dt.datetime(2022, 7, 1),
        }
        for i in range(40)
    ]
    with engine.begin() as conn:
        conn.execute(risk_scores.insert(), rows)
    with engine.begin() as conn:
        key = [
            loaded_batch(conn, source="incidents", at=dt.datetime(2024, 2, 1), name="incidents.csv")
        ]

    def add_incident(reg: str, when: dt.date, known: dt.date, row: int) -> None:
        with engine.begin() as conn:
            conn.execute(
                incidents.insert().values(
                    batch_id=key[0],
                    row_number=row,
                    register_no=reg,
                    incident_date=when,
                    known_from=known,
                )
            )

    # five incidents of the top scores, in (past, past + 365], known by D
    for n, i in enumerate(range(35, 40)):
        add_incident(f"P{i:07d}", dt.date(2023, 3, 1), dt.date(2023, 3, 2), n)
    before = calibration_at(engine, day)
    assert before.fitted and before.positives == 5
    # a sixth incident of that window, reported only after D
    add_incident("P0000010", dt.date(2023, 3, 1), dt.date(2024, 2, 1), 9)
    assert calibration_at(engine, day) == before
    assert calibration_at(engine, dt.date(2024, 2, 1)).positives == 6
