"""watchtower_digest: the supervisors' mail. Runs on data (the alerts asset), not on a clock.

Every warn run of watchtower_pipeline publishes ``watchtower_alerts`` with its as-of day; this
DAG then renders, per subscription (models/subscriptions.yaml), the digests due that day —
immediate (managers turned red), daily, and weekly (on the subscriber's weekday) — into the
outbox, and sends what the outbox holds. Each (recipient, period, subscription) digest is
rendered and sent exactly once, so a re-run changes nothing and a failed send is retried by the
next run. The immediate render also queues each red alert (new or escalated) for the webhooks
its subscriptions name (WeCom, DingTalk, JSON), and the send task posts them, once per
escalation, with retries (docs/delivery.md).

Nothing fails silently: a render task fails while open alerts reach no subscriber and no
catch-all recipient is set (WATCHTOWER_DIGEST_CATCH_ALL); the send task fails while a digest
waits for a retry (SMTP or a webhook down: the task retries) or was given up or refused
(``watchtower digest --retry-failed`` queues it again). A failed task mails the data engineers
with the alert, outbox or push ids. Wiring only.
"""

from __future__ import annotations

from typing import Any

from _watchtower_common import ALERTS, START_DATE, default_args, load_settings, run_as_of, to_xcom
from airflow.sdk import dag, task

_DOC = __doc__
CADENCES = ["immediate", "daily", "weekly"]


@dag(
    dag_id="watchtower_digest",
    description="On new alerts: render digests to the outbox, push reds to webhooks, send",
    schedule=[ALERTS],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["watchtower", "digest"],
    doc_md=_DOC,
)
def watchtower_digest() -> None:
    @task(map_index_template="{{ task.op_kwargs['cadence'] }}")
    def render(cadence: str, **context: Any) -> dict[str, Any]:
        """Render the digests of one cadence due on the as-of day into the outbox (and the
        catch-all digest of alerts nobody subscribes to); fails while such alerts have no
        catch-all recipient."""
        from watchtower import pipeline

        as_of = run_as_of(context)
        summary = pipeline.digest(load_settings(), as_of, cadence=cadence, strict=True)
        return to_xcom(summary)

    # all_done: a render that fails for alerts nobody receives must not hold back the
    # digests that were rendered; the run is failed and mailed all the same.
    @task(trigger_rule="all_done")
    def send(**context: Any) -> dict[str, Any]:
        """Send every pending digest of the outbox (SMTP from WATCHTOWER_SMTP_*) and every
        pending webhook push; raises while one waits for a retry or was given up."""
        from watchtower import pipeline

        return to_xcom(pipeline.send_outbox(load_settings(), run_as_of(context)))

    render.expand(cadence=CADENCES) >> send()


watchtower_digest()
