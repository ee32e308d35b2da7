"""watchtower_pipeline: the daily run. Wiring only; every task calls one watchtower.pipeline step.

ingest (landing folder → history, with the data-quality gate) → validate (stop on a bad
landing) → partitions → features[partition] → score[partition] → warn. The as-of day is the
run's logical date (Asia/Shanghai); re-running a day changes nothing (ingest skips files it has
seen, features/scores/tiers of a day are replaced by identical ones, alerts move only on news).

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
    run_as_of,
    to_xcom,
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
    @task(outlets=[HISTORY])
    def ingest(**context: Any) -> dict[str, Any]:
        """Load the landing folder; batches are dated the run's as-of day."""
        import datetime as dt

        from watchtower import pipeline
        from watchtower.clock import FixedClock

        as_of = run_as_of(context)
        clock = FixedClock(dt.datetime.combine(as_of, dt.time(18)))
        return to_xcom(pipeline.ingest(load_settings(), clock=clock))

    @task
    def validate(ingested: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Gate: fail (and mail) when the landing could not be read or the gate rejected it."""
        from watchtower import pipeline

        return to_xcom(pipeline.check_ingest(load_settings(), ingested, run_as_of(context)))

    @task
    def partitions(**context: Any) -> list[Any]:
        """The peer groups to fan features and scoring out over (one mapped task each)."""
        from watchtower import pipeline

        return to_xcom(pipeline.list_partitions(load_settings(), run_as_of(context)))

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

    gate = validate(ingest())
    parts = partitions()
    gate >> parts
    featured = features.expand(partition=parts)
    scored = score.expand(partition=parts)
    featured >> scored >> warn()


watchtower_pipeline()
