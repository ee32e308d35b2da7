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
