"""watchtower_retrain: weekly challenger vs champion. Wiring only.

train (a challenger on everything known by the as-of day, registered as a candidate) →
evaluate (challenger and champion replayed on past as-of days, point in time, against the
outcomes known since) → promote (only if the challenger beats the champion by the configured
margin, models/detectors.yaml) → report (promoted or not: the comparison and the decision,
mailed to the data engineers). Publishes ``watchtower_champion`` when a challenger is promoted.
"""

from __future__ import annotations

from typing import Any

from _watchtower_common import (
    CHAMPION,
    START_DATE,
    default_args,
    load_settings,
    mail_data_engineers,
    retrain_report_html,
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
        """A challenger trained on everything known by the as-of day, in the registry."""
        import datetime as dt

        from watchtower import pipeline
        from watchtower.clock import FixedClock

        as_of = run_as_of(context)
        clock = FixedClock(dt.datetime.combine(as_of, dt.time(3)))
        return to_xcom(pipeline.train(load_settings(), as_of, clock=clock))

    @task
    def evaluate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Challenger vs champion on the same past days, point in time."""
        from watchtower import pipeline

        as_of = run_as_of(context)
        return to_xcom(pipeline.compare_challenger(load_settings(), as_of, trained["model_id"]))

    @task(outlets=[CHAMPION])
    def promote(comparison: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Promote the challenger if better by the margin; else skip (no champion event)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from watchtower import pipeline

        if not (comparison["better"] or comparison["already_champion"]):
            raise AirflowSkipException(f"champion kept: {comparison['reason']}")
        model_id = pipeline.promote_challenger(
            load_settings(), comparison["challenger_id"], comparison["reason"]
        )
        context["outlet_events"][CHAMPION].extra = {
            "as_of": str(run_as_of(context)),
            "model_id": model_id,
        }
        return {"champion": model_id, "reason": comparison["reason"]}

    # none_failed: after a promotion or a skip (champion kept), never hiding a failure.
    @task(trigger_rule="none_failed")
    def report(comparison: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Whatever the decision: mail the comparison to the data engineers."""
        decision = context["ti"].xcom_pull(task_ids="promote")
        mail_data_engineers(
            f"[Watchtower] weekly retrain {run_as_of(context)}: "
            + ("challenger promoted" if decision else "champion kept"),
            retrain_report_html(comparison, decision),
        )
        return {"comparison": comparison, "decision": decision}

    # A task called with an upstream's XComArg: Airflow types the call with the function's own
    # signature (its mypy plugin is not shipped, apache/airflow#39514), hence the ignores.
    comparison = evaluate(train())  # type: ignore[arg-type]
    promote(comparison) >> report(comparison)  # type: ignore[arg-type]


watchtower_retrain()
