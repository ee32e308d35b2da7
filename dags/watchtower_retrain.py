"""watchtower_retrain: weekly challenger vs champion. Wiring only.

train (a challenger on everything known by the as-of day, registered as a candidate) →
evaluate (challenger and champion replayed on past as-of days, point in time, against the
outcomes known since) → promote (only if the challenger beats the champion by the configured
margin, models/detectors.yaml) → report (always: the comparison and the decision, mailed to
the data engineers). Publishes ``watchtower_champion`` when a challenger is promoted.
"""

from __future__ import annotations

from typing import Any

from _watchtower_common import (
    CHAMPION,
    START_DATE,
    default_args,
    load_settings,
    run_as_of,
    to_xcom,
)
from airflow.sdk import CronTriggerTimetable, dag, task

_DOC = __doc__


@dag(
    dag_id="watchtower_retrain",
    description="Weekly: train a challenger, evaluate against the champion, promote if better",
    # Saturday 03:00 in Beijing: no daily run or digest competes for the workers.
    schedule=CronTriggerTimetable("0 3 * * 6", timezone="Asia/Shanghai"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["watchtower", "weekly", "models"],
    doc_md=_DOC,
)
def watchtower_retrain() -> None:
    @task
    def train(**context: Any) -> dict[str, Any]:
        from watchtower import pipeline

        return to_xcom(pipeline.train(load_settings(), run_as_of(context)))

    @task
    def evaluate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
        from watchtower import pipeline

        return to_xcom(pipeline.evaluate_challenger(load_settings(), run_as_of(context), trained))

    @task(outlets=[CHAMPION])
    def promote(evaluation: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Promote the challenger if better by the margin; else skip (no champion event)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from watchtower import pipeline

        decision = to_xcom(pipeline.promote(load_settings(), run_as_of(context), evaluation))
        if not decision.get("promoted"):
            raise AirflowSkipException(f"champion kept: {decision.get('reason', decision)}")
        context["outlet_events"][CHAMPION].extra = {"as_of": str(run_as_of(context))}
        return decision

    @task(trigger_rule="all_done")
    def report(**context: Any) -> dict[str, Any]:
        from watchtower import pipeline

        return to_xcom(pipeline.retrain_report(load_settings(), run_as_of(context)))

    promote(evaluate(train())) >> report()


watchtower_retrain()
