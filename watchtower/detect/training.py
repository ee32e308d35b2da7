"""Training and evaluating risk models (no store access: the caller passes the data in).

``features_at(day)`` returns the point-in-time feature frame of a day (index register_no);
``incidents`` holds the confirmed incidents known on the training cut-off (register_no,
incident_date); ``rule_hits_for(frame)`` renders the YAML rules' hits for a frame.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from watchtower.detect.config import DetectConfig
from watchtower.detect.model import RiskModel, RuleHitsFn, catalog_view, feature_columns
from watchtower.detect.supervised import (
    SupervisedLayer,
    credibility,
    label_days,
    label_snapshot,
    month_end_days,
)

__all__ = [
    "TrainResult",
    "WalkForwardLayer",
    "config_model",
    "evaluate_model",
    "fingerprint_frames",
    "ranking_metrics",
    "train_model",
    "walk_forward",
    "walk_forward_layer",
]

FeaturesAt = Callable[[dt.date], pd.DataFrame]


@dataclass
class TrainResult:
    """A trained model and what it saw."""

    model: RiskModel
    data_fingerprint: str
    train_start: dt.date
    train_end: dt.date
    metrics: dict[str, Any] = field(default_factory=dict)


def fingerprint_frames(frames: Iterable[pd.DataFrame]) -> str:
    """sha256 over the contents (values, index, column names) of ``frames``, order-sensitive."""
    h = hashlib.sha256()
    for frame in frames:
        f = frame.sort_index(axis=0).sort_index(axis=1)
        h.update("|".join(map(str, f.columns)).encode())
        h.update(pd.util.hash_pandas_object(f.astype(str), index=True).to_numpy().tobytes())
    return h.hexdigest()


def ranking_metrics(
    score: pd.Series, label: pd.Series, top_share: float = 0.05
) -> dict[str, float]:
    """AUC, mean rank percentile of positives (1 = top) and precision in the top share."""
    s, y = score.align(label, join="inner")
    y = y.astype(int)
    out: dict[str, float] = {"n": float(len(y)), "positives": float(y.sum())}
    if y.nunique() < 2:
        return out
    out["auc"] = float(roc_auc_score(y, s))
    pct = s.rank(pct=True, method="average")
    out["mean_rank_pct_positive"] = float(pct[y == 1].mean())
    k = max(1, round(top_share * len(s)))
    top = s.sort_values(ascending=False, kind="mergesort").index[:k]
    out[f"precision_top{int(top_share * 100)}pct"] = float(y.loc[top].mean())
    return out


def _training_rows(
    model: RiskModel,
    days: Sequence[dt.date],
    features_at: FeaturesAt,
    incidents: pd.DataFrame,
    horizon: int,
    cutoff: dt.date,
    progress: bool,
) -> tuple[pd.DataFrame, pd.Series, list[pd.DataFrame]]:
    from tqdm import tqdm

    xs, ys, raw = [], [], []
    for day in tqdm(days, desc="training snapshots", disable=not progress, file=None):
        frame = features_at(day)
        if frame.empty:
            continue
        dev, _, _ = model.deviations(frame)
        y = label_snapshot(dev.index, day, incidents, horizon, cutoff)
        dev = dev.loc[y.index]
        dev.index = pd.MultiIndex.from_arrays(
            [[day] * len(dev), dev.index], names=["as_of", "register_no"]
        )
        y.index = dev.index
        xs.append(dev)
        ys.append(y)
        raw.append(frame)
    if not xs:
        return pd.DataFrame(), pd.Series(dtype=int), raw
    return pd.concat(xs), pd.concat(ys), raw


def _base_model(
    config: DetectConfig, catalog: Any, frame_now: pd.DataFrame, as_of: dt.date
) -> RiskModel:
    view = catalog_view(catalog)
    cols = [c for c in feature_columns(frame_now) if c in view.directions]
    return RiskModel(
        config=config,
        feature_set_version=str(catalog.version),
        features=cols,
        directions={c: view.directions[c] for c in cols},
        texts={c: view.texts[c] for c in cols},
        categories={c: view.categories[c] for c in cols},
        per_fund=[c for c in view.per_fund if c in cols],
        train_end=as_of,
    )


def config_model(
    config: DetectConfig, catalog: Any, frame: pd.DataFrame, as_of: dt.date
) -> RiskModel:
    """The unsupervised model of ``config`` for the feature frame of ``as_of``: the model
    ``train_model(config, catalog, as_of, lambda _d: frame, supervised=False)`` returns,
    without fingerprinting the frame (nothing registers it; scoring without a champion)."""
    model = _base_model(config, catalog, frame, as_of)
    model.train_start = as_of
    model.metrics = {"managers": len(frame), "incidents_known": 0}
    return model


@dataclass(frozen=True)
class WalkForwardLayer:
    """The supervised layer of cut-off ``cutoff`` for scoring without a champion (``layer``
    None: absent, ``note`` says why), what it was fitted on (``rows`` (manager, snapshot
    day) pairs over ``days`` month ends, ``positives`` of them labelled 1), the share of the
    configured supervised weight it gets (``weight_share``, see
    :func:`~watchtower.detect.supervised.credibility`) and the seconds training took."""

    cutoff: dt.date
    layer: SupervisedLayer | None
    rows: int = 0
    positives: int = 0
    days: int = 0
    weight_share: float = 0.0
    seconds: float = 0.0
    note: str = ""

    def model(
        self, config: DetectConfig, catalog: Any, frame: pd.DataFrame, as_of: dt.date
    ) -> RiskModel:
        """``config_model`` of the day with this layer (its weight shrunk by ``weight_share``)."""
        if self.layer is None:
            return config_model(config, catalog, frame, as_of)
        weight = round(config.weight_supervised * self.weight_share, 6)
        model = config_model(replace(config, weight_supervised=weight), catalog, frame, as_of)
        model.supervised = self.layer
        model.train_start = as_of
        model.metrics |= {"train_rows": self.rows, "train_positives": self.positives}
        return model


def _window_positives(days: Sequence[dt.date], incidents: pd.DataFrame, horizon: int) -> int:
    """An upper bound of the positive rows of ``days`` (managers with an incident in each
    day's label window), computed from the labels alone: below ``min_positives`` no feature
    snapshot needs reading."""
    step = dt.timedelta(days=horizon)
    dates = incidents["incident_date"]
    return sum(
        incidents.loc[(dates > d) & (dates <= d + step), "register_no"].nunique() for d in days
    )


def walk_forward_layer(
    config: DetectConfig,
    catalog: Any,
    cutoff: dt.date,
    features_at: FeaturesAt,
    incidents: pd.DataFrame,
) -> WalkForwardLayer:
    """Fit the supervised layer of cut-off ``cutoff``: rows are the month ends d of the
    lookback with ``d + horizon <= cutoff`` (:func:`month_end_days`), labelled from
    ``incidents`` restricted to those known by ``cutoff`` (the caller passes
    ``incident_labels(known_by=cutoff)``) and dated on or before it.

    Few labels and undetected cases among the negatives: the classifier is the configured
    one (by default an L2 logistic regression, ``C`` 0.3 in models/detectors.yaml, class
    balanced: strong regularisation keeps a handful of positives from fitting noise, and a
    negative that is really an undetected case moves a shrunk linear score little), no layer
    below ``min_positives`` positive rows, and the layer's weight shrunk by
    :func:`credibility` (half weight at ``min_positives``)."""
    started = time.perf_counter()
    if config.supervised_enabled == "false":
        return WalkForwardLayer(cutoff, None, note="supervised layer disabled (enabled: false)")
    days = month_end_days(cutoff, config.horizon_days, config.lookback_days)
    known = incidents.loc[incidents["incident_date"] <= cutoff, ["register_no", "incident_date"]]
    bound = _window_positives(days, known, config.horizon_days)
    if bound < config.min_positives:
        note = f"at most {bound} positive row(s) known by {cutoff}, need {config.min_positives}"
        return WalkForwardLayer(cutoff, None, days=len(days), positives=bound, note=note)
    frames: dict[dt.date, pd.DataFrame] = {}

    def cached(day: dt.date) -> pd.DataFrame:
        if day not in frames:
            frames[day] = features_at(day)
        return frames[day]

    # The deviations are those of the newest training day's feature set, so the layer of C is
    # the same whichever day of C's period is scored.
    base = _base_model(config, catalog, cached(days[-1]), cutoff)
    X, y, _ = _training_rows(base, days, cached, known, config.horizon_days, cutoff, False)
    positives = int(y.sum()) if len(y) else 0
    if positives < config.min_positives or len(y) - positives <= 0:
        note = (
            f"{positives} positive row(s) known by {cutoff} < min_positives {config.min_positives}"
        )
        return WalkForwardLayer(cutoff, None, len(y), positives, len(days), note=note)
    layer = SupervisedLayer(config.supervised_estimator, dict(config.supervised_params)).fit(X, y)
    return WalkForwardLayer(
        cutoff,
        layer,
        rows=len(y),
        positives=positives,
        days=len(days),
        weight_share=round(credibility(positives, config.min_positives), 4),
        seconds=round(time.perf_counter() - started, 3),
    )


def train_model(
    config: DetectConfig,
    catalog: Any,
    as_of: dt.date,
    features_at: FeaturesAt,
    incidents: pd.DataFrame | None = None,
    *,
    supervised: bool | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a :class:`RiskModel` with cut-off ``as_of``.

    The ensemble needs no stored fit (it is fitted per peer group on each scored day); what
    training decides is the feature set and, when incidents allow, the supervised layer,
    fitted on snapshots ``d`` with ``d + horizon <= as_of`` labelled from incidents known by
    ``as_of`` (strictly past labels). ``supervised``: force on/off; None follows
    ``config.supervised_enabled`` (auto: on when at least ``min_positives`` positives).
    Metrics: counts, and when possible a time holdout (the layer refitted on snapshots whose
    labels were known by the newest labelled snapshot, evaluated on that snapshot).
    """
    frame_now = features_at(as_of)
    model = _base_model(config, catalog, frame_now, as_of)
    inc = (
        pd.DataFrame(columns=["register_no", "incident_date"])
        if incidents is None
        else incidents.loc[incidents["incident_date"] <= as_of, ["register_no", "incident_date"]]
    )
    want = (
        {"true": True, "false": False}.get(config.supervised_enabled)
        if supervised is None
        else supervised
    )
    metrics: dict[str, Any] = {"managers": len(frame_now), "incidents_known": len(inc)}
    frames = [frame_now, inc.astype(str)]
    train_start = as_of
    if want is not False and len(inc):
        days = label_days(
            as_of, config.horizon_days, config.snapshot_every_days, config.lookback_days
        )
        X, y, raw = _training_rows(
            model, days, features_at, inc, config.horizon_days, as_of, progress
        )
        frames += raw
        positives = int(y.sum()) if len(y) else 0
        metrics.update(
            {"train_rows": len(y), "train_positives": positives, "train_days": len(days)}
        )
        enough = positives >= config.min_positives and len(y) - positives > 0
        if want is True and not enough:
            raise ValueError(
                f"supervised layer requested but only {positives} positive snapshot rows "
                f"(need {config.min_positives}) before {as_of}"
            )
        if enough:
            layer = SupervisedLayer(config.supervised_estimator, dict(config.supervised_params))
            model.supervised = layer.fit(X, y)
            train_start = min(days)
            metrics.update(_holdout(config, X, y, days))
    model.train_start = train_start
    model.metrics = metrics
    return TrainResult(
        model=model,
        data_fingerprint=fingerprint_frames(frames),
        train_start=train_start,
        train_end=as_of,
        metrics=metrics,
    )


def _holdout(
    config: DetectConfig, X: pd.DataFrame, y: pd.Series, days: Sequence[dt.date]
) -> dict[str, Any]:
    """Refit on snapshots labelled by the newest one's day, evaluate on the newest one."""
    test_day = max(days)
    horizon = dt.timedelta(days=config.horizon_days)
    day_of = X.index.get_level_values("as_of")
    train_mask = np.array([d + horizon <= test_day for d in day_of])
    test_mask = np.asarray(day_of == test_day)
    y_tr, y_te = y[train_mask], y[test_mask]
    if y_tr.sum() < max(2, config.min_positives // 2) or y_te.nunique() < 2 or y_tr.nunique() < 2:
        return {}
    layer = SupervisedLayer(config.supervised_estimator, dict(config.supervised_params))
    layer.fit(X[train_mask], y_tr)
    p = pd.Series(layer.predict_risk(X[test_mask]), index=y_te.index)
    m = ranking_metrics(p, y_te)
    return {f"holdout_supervised_{k}": v for k, v in m.items()} | {"holdout_day": str(test_day)}


def evaluate_model(
    model: RiskModel,
    days: Sequence[dt.date],
    features_at: FeaturesAt,
    incidents: pd.DataFrame,
    *,
    horizon_days: int = 180,
    rule_hits_for: RuleHitsFn | None = None,
    known_by: dt.date | None = None,
) -> pd.DataFrame:
    """Backtest ``model`` on past ``days``: one row per day with ranking metrics of ``score``
    (and each component) for "incident within ``horizon_days`` after the day".

    Labels use incidents known by ``known_by`` (default: all given). Managers already hit by an
    incident on or before the day are left out.
    """
    rows = []
    for day in days:
        frame = features_at(day)
        if frame.empty:
            continue
        hits: Mapping[str, Any] | None = rule_hits_for(frame) if rule_hits_for else None
        scored = model.score(frame, hits)
        cutoff = known_by or (day + dt.timedelta(days=horizon_days))
        inc = incidents[incidents["incident_date"] <= cutoff]
        end = day + dt.timedelta(days=horizon_days)
        y = label_snapshot(scored.index, day, inc, horizon_days, max(cutoff, end))
        row: dict[str, Any] = {"as_of": day}
        for comp in ("score", "anomaly_score", "rule_score", "supervised_score"):
            col = scored[comp]
            if col.notna().any():
                m = ranking_metrics(col.fillna(0.0), y)
                prefix = "" if comp == "score" else f"{comp.removesuffix('_score')}_"
                row |= {f"{prefix}{k}": v for k, v in m.items() if prefix == "" or k == "auc"}
        rows.append(row)
    return pd.DataFrame(rows)


def walk_forward(
    config: DetectConfig,
    catalog: Any,
    days: Sequence[dt.date],
    features_at: FeaturesAt,
    incidents: pd.DataFrame,
    *,
    horizon_days: int | None = None,
    rule_hits_for: RuleHitsFn | None = None,
    known_by: dt.date | None = None,
) -> pd.DataFrame:
    """Honest backtest of a *config*: for every day D, train with cut-off D (incidents up to
    D only), score D, and measure against incidents in ``(D, D + horizon]`` (known by
    ``known_by``). Unlike :func:`evaluate_model` on a model trained after D, no label the
    model learned from lies in the evaluated window. One row per day (see evaluate_model)."""
    horizon = horizon_days or config.horizon_days
    rows = []
    for day in days:
        past = incidents[incidents["incident_date"] <= day]
        model = train_model(config, catalog, day, features_at, past).model
        frame = evaluate_model(
            model,
            [day],
            features_at,
            incidents,
            horizon_days=horizon,
            rule_hits_for=rule_hits_for,
            known_by=known_by,
        )
        frame["kind"] = model.kind
        rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
