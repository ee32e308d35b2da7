"""The detection steps: train, score, run. Each takes the store's engine (the step layer opens
it once per process and passes it down)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from watchtower.clock import Clock
from watchtower.config import Settings
from watchtower.contract import PARTITION_SLUGS
from watchtower.detect._scoring import (
    calibration_at,
    features_at,
    load_catalog,
    load_incidents,
    name_ties,
    scoring_context,
    walk_forward_at,
    write_scores,
)
from watchtower.detect.config import load_detect_config
from watchtower.detect.model import RiskModel, whole_peer_groups
from watchtower.detect.registry import champion, promote, register_trained
from watchtower.detect.training import WalkForwardLayer, train_model
from watchtower.features import manager_type_counts, partition_of_type

__all__ = [
    "RunSummary",
    "ScoreSummary",
    "TrainSummary",
    "run_day",
    "run_scoring",
    "run_training",
]


@dataclass(frozen=True)
class TrainSummary:
    """A trained and registered model."""

    model_id: str
    status: str
    kind: str
    feature_set_version: str
    train_start: dt.date | None
    train_end: dt.date
    data_fingerprint: str
    artifact_path: str
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreSummary:
    """One day scored (``partition``: the manager type slug scored, None = all)."""

    as_of: dt.date
    partition: str | None
    model_id: str
    feature_set_version: str
    managers_scored: int
    with_rule_hits: int
    mean_score: float
    max_score: float
    at_least_50: int
    #: the calibration map's fit: (day, manager) pairs and positives (0, 0: no past day)
    calibration_samples: int = 0
    calibration_positives: int = 0
    #: False: too few past positives, no probability stored (shown as "—")
    calibrated: bool = False
    #: the supervised layer that scored: its training cut-off (None: no layer), its
    #: (manager, snapshot day) training rows and positives among them; ``supervised_note``
    #: says why there is none (e.g. too few positives known by the walk-forward cut-off)
    supervised_cutoff: dt.date | None = None
    supervised_rows: int = 0
    supervised_positives: int = 0
    supervised_note: str = ""


@dataclass(frozen=True)
class RunSummary:
    """Features computed (or found stored) and scores written for one day."""

    as_of: dt.date
    managers_with_features: int
    score: ScoreSummary


def run_training(
    engine: sa.Engine,
    settings: Settings,
    as_of: dt.date,
    *,
    clock: Clock,
    supervised: bool | None = None,
    promote_now: bool = False,
    note: str | None = None,
    actor: str | None = None,
    progress: bool = False,
) -> TrainSummary:
    """Train a model with cut-off ``as_of`` (features of past days, incidents known by
    ``as_of``), register it as a challenger, and promote it when ``promote_now`` or when
    there is no champion yet. The clock stamps the registry entry only."""
    catalog = load_catalog(settings)
    config = load_detect_config(settings.models_dir / "detectors.yaml")
    now = clock.now()
    result = train_model(
        config,
        catalog,
        as_of,
        lambda day: features_at(engine, catalog, day, created_at=now),
        load_incidents(engine, as_of),
        supervised=supervised,
        progress=progress,
    )
    record = register_trained(
        engine,
        settings.artifacts_dir,
        result,
        params=config.to_dict(),
        clock=clock,
        note=note,
        actor=actor,
    )
    if promote_now or champion(engine) is None:
        why = "promoted at training" if promote_now else "first model: promoted automatically"
        record = promote(engine, record.id, clock=clock, actor=actor, reason=why)
    return TrainSummary(
        model_id=record.id,
        status=record.status,
        kind=record.kind,
        feature_set_version=record.feature_set_version,
        train_start=record.train_start,
        train_end=record.train_end,
        data_fingerprint=record.data_fingerprint,
        artifact_path=record.artifact_path,
        metrics=dict(record.metrics),
    )


def run_scoring(
    engine: sa.Engine,
    settings: Settings,
    as_of: dt.date,
    partition: str | None = None,
    *,
    clock: Clock,
    trust: bool = False,
    model_path: Path | None = None,
) -> ScoreSummary:
    """Score every manager known on ``as_of`` (those of one ``partition`` only, if given)
    and replace that day's risk_scores rows for them.

    A partition's scores equal the same rows of an unpartitioned run. Which rows it reads is
    decided from the day's manager counts per type (no feature row read): a partition whose
    types are each a peer group of their own (at least ``peer_min_size`` managers, the peer
    key being the manager type) reads only its own feature rows, as its groups' statistics
    and ensembles are fitted on those rows alone. The one exception is a partition with
    pooled managers (a type under the minimum size, or an unknown type; every partition when
    the peer key is not the manager type): pooled managers are compared with everyone, so it
    reads the whole day's cross-section, and still writes only its own rows. Features the
    partition needs and the store lacks are computed. The clock stamps ``created_at`` only.
    """
    ctx = scoring_context(settings, engine, trust=trust, model_path=model_path)
    now = clock.now()
    keep: np.ndarray | None = None  # rows of the frame to write (None: all)
    if partition is None:
        frame = features_at(engine, ctx.catalog, as_of, created_at=now)
    else:
        sizes = _partition_sizes(engine, as_of, partition)
        if whole_peer_groups(sizes, ctx.config.peer_key, ctx.config.peer_min_size):
            count = sum(sizes.values())
            frame = features_at(
                engine, ctx.catalog, as_of, created_at=now, partition=partition, managers=count
            )
        else:  # pooled managers: their peers are the whole cross-section
            frame = features_at(engine, ctx.catalog, as_of, created_at=now)
            keep = np.array([partition_of_type(t) == partition for t in frame["manager_type"]])
    layer = (
        walk_forward_at(engine, ctx.config, ctx.catalog, as_of, created_at=now)
        if ctx.model is None
        else None
    )
    model = ctx.model_for(frame, as_of, layer)
    model_id = ctx.model_id_for(layer)
    mine = frame if keep is None else frame[keep]
    hits = ctx.rule_hits(mine) if ctx.rule_hits else None  # rules read a manager's own row
    scored = model.score(frame, hits, only=keep)
    scored["reasons"] = name_ties(engine, as_of, scored)
    # the map of the whole day (past days of every partition), so a partition's
    # probabilities equal the same rows of an unpartitioned run
    calibration = calibration_at(engine, as_of)
    scored["probability_12m"] = calibration.probabilities(scored["score"].to_numpy())
    n = write_scores(
        engine,
        as_of,
        scored,
        model_id=model_id,
        feature_set_version=model.feature_set_version,
        created_at=now,
    )
    scores = scored["score"] if n else None
    return ScoreSummary(
        as_of=as_of,
        partition=partition,
        model_id=model_id,
        feature_set_version=model.feature_set_version,
        managers_scored=n,
        with_rule_hits=int(sum(bool(h) for h in scored["rule_hits"])) if n else 0,
        mean_score=round(float(scores.mean()), 3) if scores is not None else 0.0,
        max_score=round(float(scores.max()), 3) if scores is not None else 0.0,
        at_least_50=int((scores >= 50).sum()) if scores is not None else 0,
        calibration_samples=calibration.samples,
        calibration_positives=calibration.positives,
        calibrated=calibration.fitted,
        **_layer_fields(model, layer),
    )


def _layer_fields(model: RiskModel, layer: WalkForwardLayer | None) -> dict[str, Any]:
    """ScoreSummary's supervised_* fields: the walk-forward layer's, else the champion's."""
    if layer is not None:
        return {
            "supervised_cutoff": layer.cutoff if layer.layer is not None else None,
            "supervised_rows": layer.rows,
            "supervised_positives": layer.positives,
            "supervised_note": layer.note,
        }
    if model.supervised is None:
        return {"supervised_note": "the model has no supervised layer"}
    return {
        "supervised_cutoff": model.train_end,
        "supervised_rows": int(model.metrics.get("train_rows", 0)),
        "supervised_positives": int(model.metrics.get("train_positives", 0)),
    }


def _partition_sizes(engine: sa.Engine, as_of: dt.date, partition: str) -> dict[str | None, int]:
    """Managers per manager type of ``partition`` known on ``as_of`` (a grouped count of the
    day's managers, no feature read). Raises ValueError for a slug that is no partition."""
    if partition not in PARTITION_SLUGS:
        raise ValueError(f"unknown partition {partition!r}; one of {', '.join(PARTITION_SLUGS)}")
    counts = manager_type_counts(engine, as_of)
    return {t: n for t, n in counts.items() if partition_of_type(t) == partition}


def run_day(
    engine: sa.Engine, settings: Settings, as_of: dt.date, *, clock: Clock, trust: bool = False
) -> RunSummary:
    """Features (computed and stored unless already stored) then scores for ``as_of``."""
    catalog = load_catalog(settings)
    frame = features_at(engine, catalog, as_of, created_at=clock.now())
    summary = run_scoring(engine, settings, as_of, clock=clock, trust=trust)
    return RunSummary(as_of=as_of, managers_with_features=len(frame), score=summary)
