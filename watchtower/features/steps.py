"""The feature steps: compute and store a day's features, list its partitions. Each takes the
store's engine (the step layer opens it once per process and passes it down)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa

from watchtower.clock import Clock, SystemClock
from watchtower.config import Settings
from watchtower.features.catalog import load_catalog
from watchtower.features.engine import META_COLUMNS, compute_features
from watchtower.store.features import record_feature_run, store_features
from watchtower.store.knowledge import knowledge_of


@dataclass(frozen=True)
class FeatureSummary:
    """What one feature run did: managers computed and stored for ``as_of``.

    ``filled`` is the share of non-missing feature values (0-1); ``seconds`` the wall time of
    computing (not storing).
    """

    as_of: dt.date
    partition: str | None
    feature_set_version: str
    managers: int
    features: int
    rows_stored: int
    filled: float
    seconds: float


def run_features(
    engine: sa.Engine,
    settings: Settings,
    as_of: dt.date,
    partition: str | None = None,
    *,
    clock: Clock | None = None,
    store: bool = True,
) -> FeatureSummary:
    """Compute the catalog (``settings.features_dir``) as of ``as_of`` for every manager (of
    one ``partition``), store the snapshot (replacing that day's rows of those managers)."""
    catalog = load_catalog(settings.features_dir)
    with engine.connect() as conn:
        knowledge = knowledge_of(conn, as_of)  # before computing: a batch landing meanwhile
        # leaves the snapshot stale, never falsely fresh
    started = time.perf_counter()
    frame = compute_features(engine, as_of, catalog=catalog, partition=partition)
    seconds = time.perf_counter() - started
    stored = 0
    if store and len(frame):
        now = (clock or SystemClock()).now()
        with engine.begin() as conn:
            stored = store_features(conn, as_of, frame, catalog.version, created_at=now)
            record_feature_run(
                conn, as_of, catalog.version, knowledge, partition=partition, created_at=now
            )
    values = frame.drop(columns=list(META_COLUMNS))
    filled = float(values.notna().to_numpy().mean()) if values.size else 0.0
    return FeatureSummary(
        as_of=as_of,
        partition=partition,
        feature_set_version=catalog.version,
        managers=len(frame),
        features=values.shape[1],
        rows_stored=stored,
        filled=round(filled, 4),
        seconds=round(seconds, 3),
    )
