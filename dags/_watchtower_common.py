"""Shared wiring of the Watchtower DAGs: assets, default task arguments, failure mail, dates.

Not a DAG file (listed in ``.airflowignore``). Kept cheap at parse time: no Watchtower, pandas
or provider imports at module level; tasks import what they need inside their bodies.

- Every task retries with exponential backoff and, once out of retries, mails the data
  engineers (Airflow variable ``watchtower_data_engineers``, comma separated; the SMTP
  connection ``smtp_default``, e.g. ``AIRFLOW_CONN_SMTP_DEFAULT`` pointing at Mailpit).
- The as-of date of a run is its logical date in the supervisors' time zone (Asia/Shanghai);
  asset-triggered runs (no logical date) take the as-of date the producing task published in
  the asset event, so a digest describes the day the data is about, not the day it ran.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import Asset

if TYPE_CHECKING:
    from airflow.sdk import Context

    from watchtower.config import Settings

log = logging.getLogger(__name__)

TIMEZONE = pendulum.timezone("Asia/Shanghai")
#: First schedulable day. catchup is off everywhere: past days go through watchtower_backfill.
START_DATE = pendulum.datetime(2024, 1, 1, tz=TIMEZONE)

#: History tables after an ingest (manager/fund snapshots, reports, events, incidents).
HISTORY = Asset(name="watchtower_history", uri="watchtower://store/history", group="watchtower")
#: Risk scores and reasons of one as-of day.
SCORES = Asset(name="watchtower_scores", uri="watchtower://store/risk_scores", group="watchtower")
#: Alerts after a warn run; the event's extra carries ``as_of`` (ISO date).
ALERTS = Asset(name="watchtower_alerts", uri="watchtower://store/alerts", group="watchtower")
#: The champion model in the registry; an event means a challenger was promoted.
CHAMPION = Asset(name="watchtower_champion", uri="watchtower://store/models", group="watchtower")

DATA_ENGINEERS_VARIABLE = "watchtower_data_engineers"
DATA_ENGINEERS_DEFAULT = "data-engineers@localhost"
SMTP_CONN_ID = "smtp_default"
MAIL_FROM = "watchtower-airflow@localhost"


def failure_message(context: Any) -> tuple[str, str]:
    """(subject, html body) of the failure mail: DAG, task, map index, run, host, log, error."""
    ti = context["ti"]
    run = context.get("dag_run")
    error = context.get("exception")
    map_index = getattr(ti, "map_index", -1)
    task = f"{ti.dag_id}.{ti.task_id}" + (f"[{map_index}]" if map_index >= 0 else "")
    day = (getattr(run, "logical_date", None) or getattr(run, "run_after", "")) if run else ""
    rows = [
        ("Run", ti.run_id),
        ("Logical date", day),
        ("Try", getattr(ti, "try_number", "")),
        ("Host", getattr(ti, "hostname", "")),
        ("Log", getattr(ti, "log_url", "")),
    ]
    error_text = f"{type(error).__name__}: {error}" if error is not None else "(no exception)"
    subject = f"[Watchtower] task failed: {task} ({ti.run_id})"
    body = (
        f"<p>Watchtower task <b>{html.escape(task)}</b> failed.</p>\n<table>\n"
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>\n" for k, v in rows
        )
        + f"</table>\n<p>Error:</p>\n<pre>{html.escape(error_text)}</pre>\n"
    )
    return subject, body


def mail_data_engineers(subject: str, html_body: str, context: Context | None = None) -> None:
    """Mail the data engineers (variable ``watchtower_data_engineers``) through the Airflow
    SMTP connection ``smtp_default``. The text is final: no Jinja rendering of it."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk import Variable

    to = Variable.get(DATA_ENGINEERS_VARIABLE, default=DATA_ENGINEERS_DEFAULT)
    notifier = SmtpNotifier(
        to=[a.strip() for a in str(to).split(",") if a.strip()],
        from_email=MAIL_FROM,
        subject=subject,
        html_content=html_body,
        smtp_conn_id=SMTP_CONN_ID,
    )
    notifier.notify(context or {})


def notify_data_engineers(context: Any) -> None:
    """on_failure_callback: mail the task, run and error to the data engineers.

    A mail failure is logged, never raised: the task is failed already and the callback must
    not hide why.
    """
    try:
        mail_data_engineers(*failure_message(context), context=context)
    except Exception:  # the callback must never mask the task's own error
        log.exception("could not mail the data engineers about a failed Watchtower task")


def retrain_report_html(comparison: dict[str, Any] | None, decision: Any) -> str:
    """The weekly retrain report (challenger vs champion, the decision), as HTML."""
    if not comparison:
        return "<p>The comparison did not run (see the failed task's mail).</p>"
    rows = [
        ("Challenger", comparison.get("challenger_id")),
        ("Champion", comparison.get("champion_id") or "(none)"),
        ("Challenger mean AUC", comparison.get("challenger_auc")),
        ("Champion mean AUC", comparison.get("champion_auc")),
        ("Margin", comparison.get("margin")),
        ("Days", ", ".join(comparison.get("days") or [])),
        ("Decision", "promoted" if decision else "champion kept"),
        ("Why", comparison.get("reason")),
    ]
    return (
        "<p>Watchtower weekly retrain</p>\n<table>\n"
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>\n" for k, v in rows
        )
        + "</table>\n"
    )


def raise_for_unloaded(problems: list[dict[str, Any]]) -> None:
    """Stop the line (ValueError listing them) when landing files were rejected or failed."""
    if problems:
        listing = "; ".join(
            f"{p['path']}: {p['status']} ({p.get('message') or 'see Data Docs'})" for p in problems
        )
        raise ValueError(f"{len(problems)} landing file(s) not loaded: {listing}")


def default_args(**overrides: Any) -> dict[str, Any]:
    """Task defaults: 3 retries, 1 → 2 → 4 min backoff (capped at 30), failure mail."""
    args: dict[str, Any] = {
        "owner": "watchtower-data",
        "retries": 3,
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
        "on_failure_callback": notify_data_engineers,
    }
    args.update(overrides)
    return args


def run_as_of(context: Any) -> dt.date:
    """The as-of day of a run: the logical date in Asia/Shanghai, else the published as-of.

    Asset-triggered runs have no logical date; they take the latest ``as_of`` of the asset
    events that triggered them, and, failing that, the run's ``run_after``.
    """
    logical = context.get("logical_date")
    if logical is not None:
        return _local_day(logical)
    published = [
        dt.date.fromisoformat(str(event.extra["as_of"]))
        for events in (context.get("triggering_asset_events") or {}).values()
        for event in events
        if (event.extra or {}).get("as_of")
    ]
    if published:
        return max(published)
    return _local_day(context["dag_run"].run_after)


def _local_day(moment: dt.datetime) -> dt.date:
    """The calendar day of ``moment`` in the supervisors' time zone."""
    return pendulum.instance(moment).in_timezone(TIMEZONE).date()


def load_settings() -> Settings:
    """Watchtower settings from the WATCHTOWER_* environment of the worker."""
    from watchtower.config import load_settings as _load

    return _load()


def to_xcom(summary: Any) -> dict[str, Any]:
    """A step's summary (a dataclass or mapping) as plain JSON for XCom and the logs (see
    watchtower.values)."""
    from watchtower.values import plain_json

    plain = plain_json(summary)
    if not isinstance(plain, dict):  # every task returning a summary declares a mapping
        raise TypeError(f"a step summary must be a dataclass or mapping, not {summary!r}")
    return plain


def to_xcom_list(items: Sequence[Any]) -> list[Any]:
    """A step's list result (e.g. the partitions to map over) as plain JSON for XCom."""
    from watchtower.values import plain_json

    return [plain_json(item) for item in items]
