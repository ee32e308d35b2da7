"""The step functions. The CLI and the Airflow DAGs call these and nothing else.

Each step is a plain function of (settings, inputs, as-of date) returning a small frozen
summary. Steps never read the wall clock: the caller passes the as-of date (the DAG's logical
date, the CLI's --as-of) or a Clock.

Planned steps (names are the contract between the CLI, the DAGs and the areas):
- ingest(settings, landing_dir, clock=...)          -> IngestSummary      (watchtower.ingest)
- validate_landing(settings, landing_dir)           -> dry-run validation (watchtower.validate)
- list_partitions(settings, as_of)                  -> peer groups to map over
- compute_features(settings, as_of, partition=None) -> FeatureSummary     (watchtower.features)
- score(settings, as_of, partition=None)            -> ScoreSummary       (watchtower.detect)
- run(settings, as_of)                               -> features + score (+ warn)
- warn(settings, as_of)                             -> WarnSummary        (watchtower.warn)
- digest(settings, as_of, send=False, to=None)      -> DigestSummary      (watchtower.digest)
- train / retrain(settings, as_of)                  -> registry entries   (watchtower.detect)
- backtest / evaluate                               -> (watchtower.evaluate)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path

from watchtower.clock import Clock, SystemClock
from watchtower.config import Settings
from watchtower.ingest import IngestSummary, LandingFile, ingest_dir
from watchtower.store import open_store


def ingest(
    settings: Settings,
    landing_dir: Path | None = None,
    *,
    clock: Clock | None = None,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
) -> IngestSummary:
    """Ingest a landing folder (default ``settings.landing_dir``) into the store.

    One transaction per file; bad rows quarantined; unreadable files recorded as failed;
    content loaded before skipped. The clock only dates the batches and stands in for a
    missing snapshot date.
    """
    engine = open_store(settings.db_url)
    return ingest_dir(
        engine,
        landing_dir or settings.landing_dir,
        clock=clock or SystemClock(),
        validator=_validator(settings),
        progress=progress,
    )


def _validator(settings: Settings):  # type: ignore[no-untyped-def]
    """The data-quality gate for ingestion (Great Expectations suites), when installed."""
    return None


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
