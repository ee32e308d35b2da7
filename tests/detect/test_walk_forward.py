"""The walk-forward supervised layer (scoring without a champion): cut-off C on a schedule,
labels known by C only, month-end training snapshots with d + horizon <= C, trained once per
C, absent (and said) below min_positives, and a champion left alone. Hand-made frames."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import watchtower.detect._scoring as scoring
from tests.detect.fakes import CATALOG, world
from watchtower.detect._scoring import ScoringContext, walk_forward_at
from watchtower.detect.config import DetectConfig
from watchtower.detect.steps import _layer_fields
from watchtower.detect.supervised import credibility, month_end_days, retrain_cutoff
from watchtower.detect.training import WalkForwardLayer, config_model, walk_forward_layer

CUTOFF = dt.date(2024, 6, 30)
CONFIG = replace(DetectConfig(), horizon_days=90, lookback_days=365, min_positives=4)
FRAME, RISKY, _ = world(120, seed=0)


class Features:
    """A features_at that records the days asked for (the same cross-section every day)."""

    def __init__(self) -> None:
        self.days: list[dt.date] = []

    def __call__(self, day: dt.date) -> pd.DataFrame:
        self.days.append(day)
        return FRAME.copy()


def _incidents(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "register_no": [r for r, _ in rows],
            "incident_date": [dt.date.fromisoformat(d) for _, d in rows],
            "incident_type": "test",
        }
    )


BASE = _incidents(*[(r, "2024-02-15") for r in RISKY[:4]], *[(r, "2023-10-15") for r in RISKY[4:]])


def _coef(layer: WalkForwardLayer) -> np.ndarray:
    assert layer.layer is not None
    return np.asarray(layer.layer.model_.coef_)


def test_no_label_after_the_cutoff_changes_the_layer_one_before_it_does() -> None:
    base = walk_forward_layer(CONFIG, CATALOG, CUTOFF, Features(), BASE)
    assert base.layer is not None and base.positives >= CONFIG.min_positives
    later = pd.concat([BASE, _incidents((RISKY[0], "2024-07-15"), ("P1000050", "2024-08-01"))])
    after = walk_forward_layer(CONFIG, CATALOG, CUTOFF, Features(), later)
    assert (after.rows, after.positives) == (base.rows, base.positives)
    np.testing.assert_array_equal(_coef(after), _coef(base))
    # known by C and inside the label windows of two training days (2024-02-29 and
    # 2024-03-31, 90 days): two new positive rows, a different layer
    known = pd.concat([BASE, _incidents(("P1000050", "2024-05-15"))])
    more = walk_forward_layer(CONFIG, CATALOG, CUTOFF, Features(), known)
    assert more.positives == base.positives + 2
    assert not np.array_equal(_coef(more), _coef(base))


def test_training_rows_are_month_ends_whose_label_window_closed_by_the_cutoff() -> None:
    features = Features()
    layer = walk_forward_layer(CONFIG, CATALOG, CUTOFF, features, BASE)
    horizon = dt.timedelta(days=CONFIG.horizon_days)
    assert features.days and set(features.days) == set(month_end_days(CUTOFF, 90, 365))
    assert all(d + horizon <= CUTOFF for d in features.days)
    assert all((d + dt.timedelta(days=1)).day == 1 for d in features.days)  # month ends
    assert max(features.days) == dt.date(2024, 3, 31)  # 2024-04-30 + 90 days > C
    assert layer.days == len(set(features.days)) == 9
    # every manager of every training day, less those already hit on or before the day
    hit = {d: sum(BASE["incident_date"] <= d) for d in set(features.days)}
    assert layer.rows == sum(len(FRAME) - n for n in hit.values())
    for c in (dt.date(2023, 2, 28), dt.date(2024, 12, 31), dt.date(2025, 3, 31)):
        days = month_end_days(c, 180, 720)
        assert days and all(d + dt.timedelta(days=180) <= c for d in days)
        assert all(d >= c - dt.timedelta(days=720) for d in days)


def test_retrain_cutoff_is_the_period_end_on_or_before_the_day() -> None:
    assert retrain_cutoff(dt.date(2024, 6, 30)) == dt.date(2024, 6, 30)
    assert retrain_cutoff(dt.date(2024, 6, 29)) == dt.date(2024, 5, 31)
    assert retrain_cutoff(dt.date(2024, 3, 1)) == dt.date(2024, 2, 29)
    assert retrain_cutoff(dt.date(2024, 1, 15)) == dt.date(2023, 12, 31)
    assert retrain_cutoff(dt.date(2024, 5, 20), "quarterly") == dt.date(2024, 3, 31)
    assert retrain_cutoff(dt.date(2024, 9, 30), "quarterly") == dt.date(2024, 9, 30)
    with pytest.raises(ValueError, match="retrain_every"):
        retrain_cutoff(dt.date(2024, 1, 1), "weekly")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """walk_forward_at on a fake store: labels with their known-by day, one batch state."""
    seen: dict[str, Any] = {"known_by": [], "trained": 0, "labels": BASE}

    def labels(_conn: Any, known_by: dt.date | None = None) -> pd.DataFrame:
        seen["known_by"].append(known_by)
        frame: pd.DataFrame = seen["labels"]
        return frame

    real = walk_forward_layer

    def counted(*args: Any, **kwargs: Any) -> WalkForwardLayer:
        seen["trained"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "_LAYERS", OrderedDict())
    monkeypatch.setattr(scoring, "incident_labels", labels)
    monkeypatch.setattr("watchtower.store.knowledge.knowledge_of", lambda _c, _d: "1:1")
    monkeypatch.setattr(scoring, "features_at", lambda _e, _c, d, **_k: FRAME.copy())
    monkeypatch.setattr(scoring, "walk_forward_layer", counted)
    return seen


def test_two_days_of_one_month_share_one_layer_trained_once(store: dict[str, Any]) -> None:
    engine = sa.create_engine("sqlite://")
    first = walk_forward_at(engine, CONFIG, CATALOG, dt.date(2024, 7, 10))
    second = walk_forward_at(engine, CONFIG, CATALOG, dt.date(2024, 7, 25))
    assert first is second and store["trained"] == 1
    assert first.cutoff == CUTOFF and store["known_by"] == [CUTOFF, CUTOFF]
    ctx = ScoringContext(None, "config-abc", None, CATALOG, None, CONFIG)
    assert ctx.model_id_for(first) == "config-abc+wf2024-06-30"
    # a label known by C that was not known before: retrained
    store["labels"] = pd.concat([BASE, _incidents(("P1000050", "2024-05-15"))])
    third = walk_forward_at(engine, CONFIG, CATALOG, dt.date(2024, 7, 25))
    assert store["trained"] == 2 and third.positives == first.positives + 2
    walk_forward_at(engine, CONFIG, CATALOG, dt.date(2024, 8, 1))  # next month: next C
    assert store["trained"] == 3 and store["known_by"][-1] == dt.date(2024, 7, 31)


def test_the_process_keeps_the_most_recently_used_layers_only(store: dict[str, Any]) -> None:
    engine = sa.create_engine("sqlite://")
    kept = scoring._LAYERS_KEPT
    months = [dt.date(2024 + m // 12, m % 12 + 1, 15) for m in range(6, 6 + kept + 1)]
    first = walk_forward_at(engine, CONFIG, CATALOG, months[0])
    for day in months[1:-1]:
        walk_forward_at(engine, CONFIG, CATALOG, day)
    assert walk_forward_at(engine, CONFIG, CATALOG, months[0]) is first  # used again: kept
    walk_forward_at(engine, CONFIG, CATALOG, months[-1])  # one more: the oldest unused goes
    assert len(scoring._LAYERS) == kept and store["trained"] == kept + 1
    walk_forward_at(engine, CONFIG, CATALOG, months[1])  # that one was evicted: retrained
    assert store["trained"] == kept + 2
    assert walk_forward_at(engine, CONFIG, CATALOG, months[0]) is first


def test_below_min_positives_the_layer_is_absent_and_said(store: dict[str, Any]) -> None:
    store["labels"] = BASE.iloc[:1]
    features = Features()
    few = walk_forward_layer(CONFIG, CATALOG, CUTOFF, features, store["labels"])
    assert few.layer is None and not features.days  # decided from the labels alone
    assert "need 4" in few.note and str(CUTOFF) in few.note
    layer = walk_forward_at(sa.create_engine("sqlite://"), CONFIG, CATALOG, CUTOFF)
    ctx = ScoringContext(None, "config-abc", None, CATALOG, None, CONFIG)
    model = ctx.model_for(FRAME, CUTOFF, layer)
    assert model.supervised is None and ctx.model_id_for(layer) == "config-abc"
    assert model.score(FRAME)["supervised_score"].isna().all()
    fields = _layer_fields(model, layer)
    assert fields["supervised_cutoff"] is None and "need 4" in fields["supervised_note"]


def test_the_layer_scores_with_a_weight_shrunk_by_its_positives() -> None:
    layer = walk_forward_layer(CONFIG, CATALOG, CUTOFF, Features(), BASE)
    share = credibility(layer.positives, CONFIG.min_positives)
    assert 0 < share < 1 and layer.weight_share == round(share, 4)
    model = layer.model(CONFIG, CATALOG, FRAME, dt.date(2024, 7, 1))
    assert model.supervised is layer.layer
    assert model.config.weight_supervised == pytest.approx(CONFIG.weight_supervised * share, 1e-3)
    scored = model.score(FRAME)
    assert scored["supervised_score"].notna().all()
    assert scored.loc[RISKY, "supervised_score"].mean() > scored["supervised_score"].median()
    fields = _layer_fields(model, layer)
    assert fields["supervised_cutoff"] == CUTOFF and fields["supervised_rows"] == layer.rows
    assert credibility(0, 4) == 0.0 and credibility(4, 4) == 0.5


def test_with_a_champion_nothing_changes() -> None:
    champion = config_model(CONFIG, CATALOG, FRAME, CUTOFF)
    ctx = ScoringContext(champion, "m-0001", None, CATALOG, None, CONFIG)
    layer = walk_forward_layer(CONFIG, CATALOG, CUTOFF, Features(), BASE)
    assert ctx.model_for(FRAME, CUTOFF, layer) is champion
    assert ctx.model_id_for(layer) == "m-0001"
    assert _layer_fields(champion, None) == {"supervised_note": "the model has no supervised layer"}
    # a champion's own fitted layer is the one reported
    champion.supervised, champion.train_end = layer.layer, dt.date(2024, 1, 31)
    champion.metrics |= {"train_rows": 700, "train_positives": 9}
    assert ctx.model_for(FRAME, CUTOFF, None) is champion
    assert _layer_fields(champion, None) == {
        "supervised_cutoff": dt.date(2024, 1, 31),
        "supervised_rows": 700,
        "supervised_positives": 9,
    }
