"""Backtesting and evaluation against baselines.

- :mod:`~watchtower.evaluate.metrics`: the metrics as pure functions on plain frames.
- :mod:`~watchtower.evaluate.backtest`: replay features, scores and tiers on past days.
- :mod:`~watchtower.evaluate.evaluation`: the system against "rules only" and a single
  IForest, on the same stored days; :mod:`~watchtower.evaluate.report`: JSON + HTML.

The steps (:mod:`~watchtower.evaluate.steps`): :func:`run_backtest`, :func:`run_evaluation`, and
:func:`run_demo_evaluation` (both, as the demo's closing lines); the step layer calls them from
``watchtower.pipeline.backtest`` and ``watchtower.pipeline.evaluate``.
"""

from watchtower.evaluate.backtest import (
    FREQS,
    BacktestSummary,
    as_of_days,
    backtest_days,
    replay_days,
    tiered_days,
)
from watchtower.evaluate.evaluation import (
    METHODS,
    Evaluation,
    EvaluationError,
    evaluate_store,
    stored_days,
)
from watchtower.evaluate.labels import (
    LabelError,
    Labels,
    benign_kinds,
    benign_outliers,
    incident_families,
    read_incident_files,
    read_store_incidents,
    read_truth,
    read_world_family,
)
from watchtower.evaluate.metrics import EvalConfig, MethodResult, evaluate_method
from watchtower.evaluate.report import (
    benign_kind_rows,
    family_rows,
    headline_rows,
    markdown_table,
    text_table,
    write_report,
)
from watchtower.evaluate.steps import (
    EvaluationSummary,
    run_backtest,
    run_demo_evaluation,
    run_evaluation,
)

__all__ = [
    "FREQS",
    "METHODS",
    "BacktestSummary",
    "EvalConfig",
    "Evaluation",
    "EvaluationError",
    "EvaluationSummary",
    "LabelError",
    "Labels",
    "MethodResult",
    "as_of_days",
    "backtest_days",
    "benign_kind_rows",
    "benign_kinds",
    "benign_outliers",
    "evaluate_method",
    "evaluate_store",
    "family_rows",
    "headline_rows",
    "incident_families",
    "markdown_table",
    "read_incident_files",
    "read_store_incidents",
    "read_truth",
    "read_world_family",
    "replay_days",
    "run_backtest",
    "run_demo_evaluation",
    "run_evaluation",
    "stored_days",
    "text_table",
    "tiered_days",
    "write_report",
]
