"""The backtest and evaluate steps. Each takes the store's engine (the step layer opens it once
per process and passes it down) and, for a backtest, the per-day work as a callable: the step
layer's run + warn, so this area never imports the step layer back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from watchtower.config import Settings
from watchtower.evaluate.backtest import (
    BacktestSummary,
    DayProgress,
    backtest_days,
    leakage_notes,
    replay_days,
)
from watchtower.evaluate.evaluation import Evaluation, evaluate_store
from watchtower.evaluate.labels import (
    Labels,
    read_incident_files,
    read_store_incidents,
    read_truth,
    read_world_family,
)
from watchtower.evaluate.metrics import EvalConfig
from watchtower.evaluate.reliability import calibration_line
from watchtower.evaluate.report import text_table, write_report


@dataclass(frozen=True)
class EvaluationSummary:
    """Where the report went and the headline numbers.

    ``headline``: method -> {metric: value} (AUC-ROC/AUC-PR per horizon, recall at >= 90 days
    per tier, median lead in days, benign outliers in the top 5%); ``table``: the compact text
    table (methods as columns, best marked with *)."""

    start: dt.date
    end: dt.date
    days: int
    managers: int
    incidents: int
    labels: str
    observed_until: dt.date
    json_path: Path
    html_path: Path
    headline: dict[str, dict[str, Any]] = field(default_factory=dict)
    table: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the stored probabilities' reliability (Brier, bins), and its line for the terminal
    calibration: dict[str, Any] | None = None
    calibration_line: str = ""


#: The per-day work of a backtest: features, scores and tiers of one day, returning (managers
#: scored, managers per tier).
RunDay = Callable[[dt.date], tuple[int, dict[str, int]]]


def run_backtest(
    engine: sa.Engine,
    start: dt.date,
    end: dt.date,
    freq: str,
    *,
    run_day: RunDay,
    force: bool = False,
    progress: DayProgress | None = None,
) -> BacktestSummary:
    """Run ``run_day`` (features, scores, tiers) on each ``freq`` day in [start, end]."""
    days = backtest_days(start, end, freq)
    notes = leakage_notes(engine, days[0])
    return replay_days(
        engine, days, run_day, force=force, progress=progress, freq=freq, notes=notes
    )


def load_labels(engine: sa.Engine, labels: Path | None) -> Labels:
    """Incidents from ``labels`` (a contract file or folder), else those in the store."""
    if labels is not None:
        return read_incident_files(Path(labels))
    return read_store_incidents(engine)


def run_evaluation(
    engine: sa.Engine,
    settings: Settings,
    labels: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    truth: Path | None = None,
    *,
    out_dir: Path | None = None,
    observed_until: dt.date | None = None,
    config: EvalConfig | None = None,
    iforest: bool = True,
) -> tuple[EvaluationSummary, Evaluation]:
    """Evaluate stored days against labels and both baselines; write JSON + HTML under
    ``out_dir`` (default ``$WATCHTOWER_HOME/reports``)."""
    from watchtower.features import load_catalog
    from watchtower.store.features import load_features

    lab = load_labels(engine, labels)
    truth_frame = read_truth(Path(truth)) if truth is not None else None
    raw: list[str] | None = None
    try:
        catalog = load_catalog(settings.features_dir)
        raw = [s.name for s in catalog if not s.peer_of]
    except Exception:  # the baseline then uses every stored feature
        raw = None
    ev = evaluate_store(
        engine,
        lab,
        start=start,
        end=end,
        truth=truth_frame,
        observed_until=observed_until,
        config=config,
        load_features_day=(lambda d: load_features(engine, d)) if iforest else None,
        raw_features=raw,
        world_family=read_world_family(Path(truth)) if truth is not None else None,
    )
    json_path, html_path = write_report(ev, out_dir or settings.home / "reports")
    return _summary(ev, json_path, html_path), ev


def _summary(ev: Evaluation, json_path: Path, html_path: Path) -> EvaluationSummary:
    data = ev.as_dict()["methods"]
    headline: dict[str, dict[str, Any]] = {}
    for key, m in data.items():
        h: dict[str, Any] = {}
        for horizon, r in m["ranking"].items():
            h[f"auc_roc_{horizon}d"] = r["auc_roc"]
            h[f"auc_pr_{horizon}d"] = r["auc_pr"]
        for tier, v in m["warning"]["recall_at_min_lead"].items():
            h[f"recall_90d_{tier}"] = v
        for tier, v in m["warning"]["median_lead_days"].items():
            h[f"median_lead_{tier}"] = v
        if m["benign_outliers"] is not None:
            h["benign_in_top_5pct"] = m["benign_outliers"]["benign_in_top"]
            h["benign_share_of_top_5pct"] = m["benign_outliers"]["benign_share_of_top"]
        h[f"false_alarm_{ev.config.alarm_tier}_plus"] = m["false_alarms_at_or_above"][
            "false_alarm_rate"
        ]
        if m["top_share_recall"] is not None:
            h["top_5pct_recall"] = m["top_share_recall"]["recall"]
        headline[key] = h
    return EvaluationSummary(
        start=ev.start,
        end=ev.end,
        days=len(ev.dates),
        managers=ev.managers,
        incidents=ev.incidents,
        labels=ev.labels_source,
        observed_until=ev.observed_until,
        json_path=json_path,
        html_path=html_path,
        headline=headline,
        table=text_table(ev),
        notes=list(ev.notes),
        calibration=None if ev.calibration is None else ev.calibration.as_dict(),
        calibration_line=calibration_line(ev.calibration),
    )


def run_demo_evaluation(
    settings: Settings,
    *,
    truth: Path | None = None,
    labels: Path | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    backtest_freq: str | None = None,
    run_day: RunDay | None = None,
    progress: DayProgress | None = None,
    engine: sa.Engine | None = None,
) -> list[str]:
    """The demo's closing lines: evaluate the stored days in [start, end] against both
    baselines and return the compact table plus where the report is.

    With ``backtest_freq`` (e.g. "quarterly"), ``run_day`` (the step layer's run + warn of
    one day) and both ``start`` and ``end``, first backtest those days (days already done are
    skipped). ``truth``: the world's _truth/scenarios.csv. ``engine``: the store (default the
    process's engine of ``settings.db_url``). Never raises: on failure, one line saying why.
    """
    lines: list[str] = []
    try:
        if engine is None:
            from watchtower.store import open_store

            engine = open_store(settings.db_url)
        if backtest_freq and run_day is not None and start is not None and end is not None:
            b = run_backtest(engine, start, end, backtest_freq, run_day=run_day, progress=progress)
            lines.append(
                f"Backtest 回测: {len(b.days)} {backtest_freq} days {b.start} – {b.end}, "
                f"{len(b.ran)} computed in {b.seconds:.0f} s, {len(b.skipped)} already done"
            )
            lines += [f"note: {n}" for n in b.notes]
        s, _ = run_evaluation(engine, settings, labels, start, end, truth)
    except Exception as exc:  # the demo must end with a readable line
        return [*lines, f"evaluation skipped: {exc}"]
    lines += [
        f"Evaluation 评估: {s.days} backtest days {s.start} – {s.end}, {s.managers} managers, "
        f"{s.incidents} with incidents (observed until {s.observed_until}); "
        "baselines at the same alert budget. * = best",
        *s.table,
        s.calibration_line,
        *[f"note: {n}" for n in s.notes],
        f"Report 报告: {s.html_path}",
    ]
    return lines
