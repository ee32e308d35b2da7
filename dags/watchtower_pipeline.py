"""watchtower_pipeline: the daily run. Wiring only; every task calls one watchtower.pipeline step.

fetch (when WATCHTOWER_FETCH_ENABLED: AMAC's public lists into the landing folder, dated the
as-of day; scheduled and manual runs only, since AMAC serves today's state and a backfill must
not file it under a past day) → ingest (landing folder → history, through the Great
Expectations gate) → validate (stop the
line when a file was rejected or unreadable) → partitions → features[partition] →
score[partition] → warn. The as-of day is the run's logical date (Asia/Shanghai); re-running a
day changes nothing (ingest skips files it has seen, features/scores/tiers of a day are
replaced by identical ones, alerts move only on news).

Publishes ``watchtower_history`` (ingest), ``watchtower_scores`` and ``watchtower_alerts``
(warn, with ``{"as_of": "YYYY-MM-DD"}``), which the digest DAG is scheduled on.
"""

from __future__ import annotations

from typing import Any

from _watchtower_common import (
    ALERTS,
    HISTORY,
    SCORES,
    START_DATE,
    default_args,
    load_settings,
    raise_for_unloaded,
    run_as_of,
    to_xcom,
    to_xcom_list,
)
from airflow.sdk import CronTriggerTimetable, dag, task

_DOC = __doc__


@dag(
    dag_id="watchtower_pipeline",
    description="Daily: ingest → validate → features → score → warn, as of the logical date",
    # 18:00 in Beijing: after the day's AMAC pages and reports have landed.
    schedule=CronTriggerTimetable("0 18 * * *", timezone="Asia/Shanghai"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["watchtower", "daily"],
    doc_md=_DOC,
)
def watchtower_pipeline() -> None:
    @task
    def fetch(**context: Any) -> dict[str, Any]:
        """AMAC's public lists for the as-of day into the landing folder (when configured)."""
        from watchtower import pipeline

        if context["dag_run"].run_type == "backfill":
            return {"skipped": "a backfill replays what was landed; AMAC serves only today"}
        summary = pipeline.fetch_public_data(load_settings(), run_as_of(context))
        return (
            {"skipped": "WATCHTOWER_FETCH_ENABLED is off"} if summary is None else to_xcom(summary)
        )

    @task(outlets=[HISTORY])
    def ingest(**context: Any) -> dict[str, Any]:
        """Load the landing folder through the quality gate; batches dated the as-of day."""
        import datetime as dt

        from watchtower import pipeline
        from watchtower.clock import FixedClock

        as_of = run_as_of(context)
        clock = FixedClock(dt.datetime.combine(as_of, dt.time(18)))
        summary = to_xcom(pipeline.ingest(load_settings(), clock=clock))
        # XCom keeps the counts and the files that need a person, not one row per file.
        results = summary.pop("results", [])
        summary["problems"] = [r for r in results if r["status"] in ("failed", "rejected")]
        return summary

    @task
    def validate(ingested: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Stop the line when the gate rejected a file or a file could not be read.

        What was loaded stays loaded (one transaction per file); features, scores and alerts
        wait until the landing is fixed and the day re-run. The failure mail lists the files.
        """
        from watchtower import pipeline

        as_of = run_as_of(context)
        quality = to_xcom_list(pipeline.quality_report(load_settings(), since=as_of))
        raise_for_unloaded(ingested.get("problems", []))
        return {"files": ingested.get("files"), "quality": quality}

    @task
    def partitions(**context: Any) -> list[Any]:
        """The manager types to fan features and scoring out over (one mapped task each)."""
        from watchtower import pipeline

        return to_xcom_list(pipeline.list_partitions(load_settings(), run_as_of(context)))

    @task(map_index_template="{{ task.op_kwargs['partition'] }}")
    def features(partition: Any, **context: Any) -> dict[str, Any]:
        from watchtower import pipeline

        as_of = run_as_of(context)
        return to_xcom(pipeline.compute_features(load_settings(), as_of, partition=partition))

    @task(map_index_template="{{ task.op_kwargs['partition'] }}")
    def score(partition: Any, **context: Any) -> dict[str, Any]:
        from watchtower import pipeline

        as_of = run_as_of(context)
        return to_xcom(pipeline.score(load_settings(), as_of, partition=partition))

    @task(outlets=[SCORES, ALERTS])
    def warn(**context: Any) -> dict[str, Any]:
        """Tiers and alert lifecycle for the day; publishes the as-of day to the digest DAG."""
        from watchtower import pipeline

        as_of = run_as_of(context)
        summary = pipeline.warn(load_settings(), as_of)
        for asset in (SCORES, ALERTS):
            context["outlet_events"][asset].extra = {"as_of": as_of.isoformat()}
        return to_xcom(summary)

    ingested = ingest()
    fetch() >> ingested
    # A task called with an upstream's XComArg: Airflow types the call with the function's own
    # signature (its mypy plugin is not shipped, apache/airflow#39514), hence the ignores.
    gate = validate(ingested)  # type: ignore[arg-type]
    parts = partitions()
    gate >> parts
    featured = features.expand(partition=parts)
    scored = score.expand(partition=parts)
    featured >> scored >> warn()


watchtower_pipeline()
