"""The step functions. The CLI and the Airflow DAGs call these and nothing else.

This is the step layer: it adapts settings to the areas' steps (``run_*``, imported from the
area packages: ``from watchtower.detect import run_scoring``) and opens the store once per
process (``open_store`` keeps one engine per URL), passing the engine down. Nothing under
``watchtower/`` imports it back but the CLI and the demo, its callers
(tests/test_architecture.py holds it).

Each step is a plain function of (settings, inputs, as-of date) returning a small frozen
summary. Steps never read the wall clock: the caller passes the as-of date (the DAG's logical
date, the CLI's --as-of) or a Clock.

The steps (names are the contract between the CLI, the DAGs and the areas):
- fetch_public_data(settings, as_of)         -> FetchSummary | None: AMAC lists to landing
- ingest(settings, landing_dir)              -> IngestSummary: load + quality gate + Data Docs
- readmit(settings, batch_ids)               -> re-ingest rejected/failed batches after a fix
- validate_landing / quality_report          -> dry-run validation, pass rates over time
- list_partitions(settings, as_of)           -> manager types the DAG maps features/score over
- compute_features(settings, as_of, partition=None) -> FeatureSummary
- score(settings, as_of, partition=None)     -> ScoreSummary (0-100 with reasons)
- run(settings, as_of)                       -> features + score (not warn: tiers go in order)
- warn(settings, as_of)                      -> WarnSummary (tiers, alert lifecycle)
- digest / send_outbox                       -> render to the outbox, then SMTP
- train / compare_challenger / promote_challenger -> the model registry
- backtest / evaluate                        -> replay past days, metrics beside baselines
- as_of_days(start, end, freq)               -> the one calendar (backtest, backfill DAG)

And the reads and registry commands of the CLI, each a query of its area: list_alerts,
alert_metrics, alert_with_trail, transition_alert, snooze_alert, unsnooze_alert,
alerts_open_on, manager_profile, list_models, get_model, promote_model, rollback_model,
sign_model, export_scores, upgrade_store; the console's accounts (add_user, list_users,
disable_user, set_password) and its application (console_app).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from watchtower.clock import Clock, SystemClock
from watchtower.config import Settings
from watchtower.ingest import IngestSummary, LandingFile, ReadmitResult, run_ingest
from watchtower.store import open_store

if TYPE_CHECKING:
    from fastapi import FastAPI

    from watchtower.console import User
    from watchtower.detect import (
        ModelComparison,
        ModelRecord,
        RunSummary,
        ScoreSummary,
        TrainSummary,
    )
    from watchtower.digest import DigestSummary, Mailer, Poster, SendSummary
    from watchtower.evaluate import BacktestSummary, EvaluationSummary
    from watchtower.features import FeatureSummary
    from watchtower.fetch import FetchSummary
    from watchtower.managers import ManagerProfile, RelatedManager
    from watchtower.validate import DriftRow, QualityRow, RefusedBatch, ValidationSummary
    from watchtower.warn import AlertMetrics, WarnSummary


def _store(settings: Settings) -> sa.Engine:
    """The process's engine of the configured store (created and migrated on first use)."""
    return open_store(settings.db_url)


def ingest(
    settings: Settings,
    landing_dir: Path | None = None,
    *,
    clock: Clock | None = None,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
    received: dt.date | None = None,
) -> IngestSummary:
    """Ingest a landing folder (default ``settings.landing_dir``) into the store.

    One transaction per file; bad rows quarantined; unreadable files recorded as failed;
    content loaded before skipped. ``received``: the day this delivery was received (default
    the clock's today): a correction of a record already stored is known from it, never
    earlier. The clock dates the batches and stands in for a missing snapshot date.
    """
    from watchtower.ingest import ReadLimits, load_aliases
    from watchtower.validate import IngestGate

    engine = _store(settings)
    gate = IngestGate(settings)  # the Great Expectations suites of expectations/
    summary = run_ingest(
        engine,
        landing_dir or settings.landing_dir,
        clock=clock or SystemClock(),
        validator=gate,
        progress=progress,
        aliases=load_aliases(settings.aliases_file),
        received=received,
        # the landing protocol: a file still being written waits (once, then a later run)
        settle_seconds=settings.landing_settle_seconds,
        sleep=time.sleep,
        limits=ReadLimits(max_file_bytes=settings.landing_max_file_mb * 1024 * 1024),
    )
    gate.build_data_docs()  # GX Data Docs of this run into settings.data_docs_dir
    return summary


def fetch_public_data(settings: Settings, as_of: dt.date) -> FetchSummary | None:
    """Fetch AMAC's public lists for ``as_of`` into the landing folder (its dated sub-folder),
    when ``WATCHTOWER_FETCH_ENABLED``; None when the fetch is off. Resumable: what an earlier
    attempt of the same day wrote is not fetched again."""
    if not settings.fetch.enabled:
        return None
    from watchtower.fetch import FetchOptions, run_fetch

    options = FetchOptions(
        office_province=settings.fetch.office_province,
        register_province=settings.fetch.register_province,
        fetch_date=as_of,
    )
    if settings.fetch.what:
        options = dataclasses.replace(options, what=settings.fetch.what)
    return run_fetch(settings.landing_dir, options)


def readmit(
    settings: Settings,
    batch_ids: Iterable[int] | None = None,
    *,
    clock: Clock | None = None,
) -> list[ReadmitResult]:
    """Ingest rejected or failed batches again after the suites or aliases were fixed
    (``batch_ids``; None: all waiting). Each old batch records the batch that replaced it."""
    from watchtower.ingest import load_aliases, run_readmit
    from watchtower.validate import IngestGate

    engine = _store(settings)
    gate = IngestGate(settings)
    results = run_readmit(
        engine,
        batch_ids,
        clock=clock or SystemClock(),
        validator=gate,
        aliases=load_aliases(settings.aliases_file),
    )
    gate.build_data_docs()
    return results


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# --- warn and digest (watchtower.warn, watchtower.digest) -------------------------------------


def warn(
    settings: Settings,
    as_of: dt.date | dt.datetime,
    *,
    clock: Clock | None = None,
    backfill: bool = False,
) -> WarnSummary:
    """Tiers (models/tiers.yaml: thresholds, hysteresis, rule overrides) for every manager
    scored on ``as_of``, and the alert lifecycle: open, escalate, de-escalate, auto-resolve.
    Idempotent per day and safe to run concurrently (one open alert per manager is enforced
    by the database); a re-run after the day's scores changed revises its tiers. A day before
    the last warned day is refused unless ``backfill``. The clock only stamps the audit
    trail."""
    from watchtower.warn import load_policy, run_warn

    engine = _store(settings)
    policy = load_policy(settings.models_dir)
    now = (clock or SystemClock()).now()
    return run_warn(engine, _as_date(as_of), policy, now, backfill=backfill)


def digest(
    settings: Settings,
    as_of: dt.date | dt.datetime,
    *,
    send: bool = False,
    to: str | None = None,
    cadence: str | None = None,
    language: str = "zh",
    min_tier: str = "blue",
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    retry_failed: bool = False,
    strict: bool = False,
    poster: Poster | None = None,
    sleep: Callable[[float], None] | None = None,
) -> DigestSummary:
    """Render the digests due on ``as_of`` (per subscription in models/subscriptions.yaml, or
    only those of ``cadence``) into the outbox (``settings.outbox_dir``: .eml + .html), then,
    with ``send``, send the outbox by SMTP (``settings.smtp``). Each (recipient, period,
    subscription) is rendered and sent once, however often this runs. ``to``: instead, one
    ad-hoc digest of every jurisdiction to that address (``cadence`` default daily,
    ``language``, ``min_tier``). ``retry_failed``: first queue the given-up digests (and
    webhook pushes) again. ``mailer`` replaces SMTP, ``poster`` the webhooks' HTTP client and
    ``sleep`` the pause between their retries (tests). The immediate subscriptions' webhooks
    get each red alert of the day queued (and, with ``send``, posted) once.

    Open alerts no subscriber receives go to ``settings.digest.catch_all``; the summary's
    ``problems`` say what needs a person (such alerts without a catch-all, digests given up or
    waiting for a retry). ``strict`` (the DAG): raise :class:`DeliveryError` while there are
    any, so the task fails, retries and mails the data engineers."""
    from watchtower.digest import (
        DeliveryError,
        delivery_problems,
        requeue_failed,
        requeue_failed_pushes,
        run_digest,
    )
    from watchtower.warn import adhoc_subscription, load_policy, load_subscriptions

    engine = _store(settings)
    day = _as_date(as_of)
    now = (clock or SystemClock()).now()
    policy = load_policy(settings.models_dir)
    subs, _ = load_subscriptions(settings.models_dir / "subscriptions.yaml")
    if to:
        subs = [
            adhoc_subscription(to, cadence=cadence or "daily", language=language, min_tier=min_tier)
        ]
    requeued = 0
    if retry_failed:
        requeued = requeue_failed(engine, now, recipient=to)
        requeued += 0 if to else requeue_failed_pushes(engine)
    summary = run_digest(
        engine,
        as_of=day,
        subscriptions=subs,
        policy=policy,
        outbox_dir=settings.outbox_dir,
        mail_from=settings.smtp.mail_from,
        now=now,
        cadence=cadence,
        adhoc=bool(to),
        address=settings.digest.routing_address,
        catch_all=settings.digest.catch_all,
        console_url=settings.console_url,
    )
    summary = replace(summary, requeued=requeued)
    if send:
        sent = send_outbox(
            settings,
            day,
            clock=clock,
            mailer=mailer,
            recipient=to,
            strict=False,
            poster=poster,
            sleep=sleep,
        )
        summary = replace(
            summary,
            sent=sent.sent,
            retry_later=sent.retry_later,
            failed=sent.failed,
            failed_total=sent.failed_total,
            failed_ids=list(sent.failed_ids),
            errors=list(sent.errors),
            pushed=sent.pushed,
            push_retry_later=sent.push_retry_later,
            push_failed_ids=list(sent.push_failed_ids),
            problems=delivery_problems(
                unrouted_ids=summary.unrouted_ids, catch_all=summary.catch_all
            )
            + sent.problems,
        )
    if strict and summary.problems:
        raise DeliveryError(summary)
    return summary


def send_outbox(
    settings: Settings,
    as_of: dt.date | dt.datetime | None = None,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    recipient: str | None = None,
    strict: bool = True,
    poster: Poster | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SendSummary:
    """Send every pending digest in the outbox by SMTP (``settings.smtp``) and every pending
    webhook push (:func:`watchtower.digest.poster_for`, or ``poster``; retries pause through
    ``sleep``, default ``time.sleep``); failures stay pending for the next call (up to
    ``delivery.max_attempts`` in subscriptions.yaml), then are given up (state failed) until
    ``digest --retry-failed``. ``as_of`` is accepted for the DAG's symmetry; the outbox is sent
    whatever its day. With ``recipient``, only that address's digests (no pushes).

    Raises :class:`DeliveryError` (carrying the summary) while a digest waits for a retry or
    is given up, so the Airflow task fails, retries and mails the data engineers; ``strict``
    False returns the summary instead."""
    from watchtower.digest import DeliveryError, mailer_for, poster_for, run_send
    from watchtower.warn import load_subscriptions

    subs, delivery = load_subscriptions(settings.models_dir / "subscriptions.yaml")
    summary = run_send(
        _store(settings),
        mailer or mailer_for(settings.smtp),
        settings.smtp.mail_from,
        delivery,
        (clock or SystemClock()).now(),
        recipient=recipient,
        poster=poster or poster_for(),
        channels={hook.key: hook for sub in subs for hook in sub.webhooks},
        sleep=time.sleep if sleep is None else sleep,
    )
    if strict and summary.problems:
        raise DeliveryError(summary)
    return summary


# --- detection: train, score, run (watchtower.detect) -------------------------------------


def train(
    settings: Settings,
    as_of: dt.date | dt.datetime,
    *,
    clock: Clock | None = None,
    supervised: bool | None = None,
    promote: bool = False,
    note: str | None = None,
    actor: str | None = None,
    progress: bool = False,
) -> TrainSummary:
    """Train a risk model with cut-off ``as_of`` (models/detectors.yaml; the supervised layer
    from incidents known by ``as_of``, strictly past labels), save it in the registry as a
    challenger; promote it with ``promote`` (or when there is no champion yet). The clock
    stamps the registry entry."""
    from watchtower.detect import run_training

    return run_training(
        _store(settings),
        settings,
        _as_date(as_of),
        clock=clock or SystemClock(),
        supervised=supervised,
        promote_now=promote,
        note=note,
        actor=actor,
        progress=progress,
    )


def score(
    settings: Settings,
    as_of: dt.date | dt.datetime,
    partition: str | None = None,
    *,
    clock: Clock | None = None,
    trust: bool = False,
    model_path: Path | None = None,
) -> ScoreSummary:
    """Risk scores (0-100) with reasons for every manager on ``as_of`` (only one manager-type
    ``partition``'s rows if given: it reads only its own feature rows unless it holds pooled
    managers, see ``watchtower.detect.steps.run_scoring``), with the champion model (or the
    detector config while there is none). Re-running a day replaces its rows. The clock
    stamps created_at."""
    from watchtower.detect import run_scoring

    return run_scoring(
        _store(settings),
        settings,
        _as_date(as_of),
        partition,
        clock=clock or SystemClock(),
        trust=trust,
        model_path=model_path,
    )


def run(
    settings: Settings,
    as_of: dt.date | dt.datetime,
    *,
    clock: Clock | None = None,
    trust: bool = False,
) -> RunSummary:
    """Compute and store the features of ``as_of``, then score it (``score``)."""
    from watchtower.detect import run_day

    return run_day(
        _store(settings), settings, _as_date(as_of), clock=clock or SystemClock(), trust=trust
    )


# --- backtest and evaluation (watchtower.evaluate) ----------------------------------------


def backtest(
    settings: Settings,
    start: dt.date | dt.datetime,
    end: dt.date | dt.datetime,
    freq: str = "monthly",
    *,
    force: bool = False,
    progress: Callable[[Iterable[dt.date]], Iterable[dt.date]] | None = None,
    clock: Clock | None = None,
) -> BacktestSummary:
    """Replay ``run`` (features + scores) and ``warn`` (tiers) on every week end, month end or
    quarter end (``freq``) in [start, end], in calendar order, point in time from the stored
    history. Days whose tiers are stored already are skipped (resumable) unless ``force``.
    ``progress`` wraps the days to run (a progress bar). The clock stamps created_at only."""
    from watchtower.evaluate import run_backtest

    return run_backtest(
        _store(settings),
        _as_date(start),
        _as_date(end),
        freq,
        run_day=backtest_day(settings, clock),
        force=force,
        progress=progress,
    )


def as_of_days(start: dt.date, end: dt.date, freq: str) -> list[dt.date]:
    """The as-of days of ``freq`` (daily; weekly: Sundays; monthly; quarterly) in [start, end],
    oldest first: the one calendar of backtests and backfills. ValueError for an unknown
    frequency or an end before the start."""
    from watchtower.evaluate import as_of_days as _as_of_days

    return _as_of_days(start, end, freq)


def backtest_day(
    settings: Settings, clock: Clock | None = None
) -> Callable[[dt.date], tuple[int, dict[str, int]]]:
    """The per-day work of a backtest: ``run`` (features + scores) then ``warn`` (tiers,
    alerts), returning (managers scored, managers per tier)."""

    def run_day(day: dt.date) -> tuple[int, dict[str, int]]:
        run(settings, day, clock=clock)
        w = warn(settings, day, clock=clock)
        return w.scored, dict(w.tiers)

    return run_day


def evaluate(
    settings: Settings,
    labels: Path | None = None,
    start: dt.date | dt.datetime | None = None,
    end: dt.date | dt.datetime | None = None,
    truth: Path | None = None,
    *,
    out_dir: Path | None = None,
) -> EvaluationSummary:
    """Evaluate the stored (backtested) days in [start, end] against incidents (``labels``: a
    contract file or folder; default: the incidents in the store) for horizons of 90/180/365
    days, beside two baselines (rules only; one IForest on raw features) on the same days.
    ``truth``: a synthetic world's _truth/scenarios.csv (benign outliers). Writes JSON + HTML
    under ``out_dir`` (default $WATCHTOWER_HOME/reports)."""
    from watchtower.evaluate import run_evaluation

    summary, _ = run_evaluation(
        _store(settings),
        settings,
        labels,
        _as_date(start) if start is not None else None,
        _as_date(end) if end is not None else None,
        truth,
        out_dir=out_dir,
    )
    return summary


def validate_landing(
    settings: Settings,
    landing_dir: Path | None = None,
    *,
    today: dt.date,
    build_docs: bool = True,
    progress: Callable[[Iterable[LandingFile]], Iterable[LandingFile]] | None = None,
) -> ValidationSummary:
    """Dry run of ingest's quality gate over a landing folder; loads nothing.

    ``today`` stands in for missing snapshot dates (as the ingest date does). Returns per-file
    outcomes (ok / rejected / failed, failing checks) and the Data Docs path.
    """
    from watchtower.store import store_exists
    from watchtower.validate import run_landing_validation

    # the store is read when there is one; a dry run never creates it
    engine = _store(settings) if store_exists(settings.db_url) else None
    return run_landing_validation(
        engine,
        settings,
        landing_dir or settings.landing_dir,
        today=today,
        build_docs=build_docs,
        progress=progress,
    )


def quality_report(
    settings: Settings, *, source: str | None = None, since: dt.date | None = None
) -> list[QualityRow]:
    """Per-source, per-day pass rates from the stored validation results (oldest first)."""
    from watchtower.validate import quality_over_time

    engine = _store(settings)
    with engine.connect() as conn:
        return quality_over_time(conn, source=source, since=since)


def drift_report(settings: Settings, *, source: str | None = None) -> list[DriftRow]:
    """Vocabulary drift: enum values outside the contract's sets, with counts and dates."""
    from watchtower.validate import vocabulary_drift

    engine = _store(settings)
    with engine.connect() as conn:
        return vocabulary_drift(conn, source=source)


def refused_batches(settings: Settings) -> list[RefusedBatch]:
    """Rejected or failed batches waiting for re-admission."""
    from watchtower.validate import refused_batches as refused

    engine = _store(settings)
    with engine.connect() as conn:
        return refused(conn)


# --- features (watchtower.features) -------------------------------------------------------


def list_partitions(settings: Settings, as_of: dt.date | dt.datetime) -> list[str]:
    """Manager-type slugs (securities, pe_vc, asset_allocation, other, unknown) present as of
    ``as_of``: what the feature and scoring steps are mapped over. A type with at least the
    peer group's minimum size is a peer group of its own, and its scoring task reads only its
    rows; the smaller (pooled) ones are compared with everyone."""
    from watchtower.features import list_partitions as _list_partitions

    return _list_partitions(_store(settings), _as_date(as_of))


def compute_features(
    settings: Settings,
    as_of: dt.date | dt.datetime,
    partition: str | None = None,
    *,
    clock: Clock | None = None,
) -> FeatureSummary:
    """Compute the feature catalog (features/*.yaml) for every manager as of ``as_of`` (one
    ``partition`` if given) from history known by then, and store the snapshot
    (feature_snapshots; re-running a day replaces its rows). The clock stamps created_at."""
    from watchtower.features import run_features

    return run_features(_store(settings), settings, _as_date(as_of), partition, clock=clock)


# --- retraining: challenger vs champion (watchtower_retrain DAG) ---------------------------


def compare_challenger(
    settings: Settings, as_of: dt.date | dt.datetime, challenger_id: str
) -> ModelComparison:
    """Backtest the challenger ``challenger_id`` and the champion on the month ends of the
    supervised horizon before ``as_of`` (days whose label window was still open at the
    challenger's cut-off, so it never trained on their labels), point in time: features of
    each day from history known by that day, labels from incidents known by ``as_of``.
    The decision: :func:`watchtower.detect.challenger.decide_promotion`."""
    from watchtower.detect import compare_challenger as _compare

    return _compare(_store(settings), settings, _as_date(as_of), challenger_id)


def promote_challenger(
    settings: Settings,
    challenger_id: str,
    reason: str,
    *,
    clock: Clock | None = None,
    actor: str = "watchtower_retrain",
) -> str:
    """Make ``challenger_id`` the champion (registry audit: who, when, why); returns its id.
    A challenger that is the champion already is left as it is (re-runs change nothing)."""
    from watchtower.detect import get_model, promote

    engine = _store(settings)
    if get_model(engine, challenger_id).status != "champion":
        promote(engine, challenger_id, clock=clock or SystemClock(), actor=actor, reason=reason)
    return challenger_id


# --- reads and registry commands (the CLI's queries, each in its area) ---------------------


def upgrade_store(settings: Settings) -> tuple[str, set[str], set[str]]:
    """Create or migrate the store's tables to the newest schema: (the store's URL without
    its password, revisions before, revisions after). Not through ``open_store``: the
    revisions before are part of the answer."""
    from watchtower.store import create_engine, current_revisions, upgrade

    engine = create_engine(settings.db_url)
    try:
        before = current_revisions(engine)
        upgrade(engine)
        after = current_revisions(engine)
        return engine.url.render_as_string(hide_password=True), before, after
    finally:
        engine.dispose()


def list_alerts(
    settings: Settings,
    *,
    status: str = "open",
    tier: str | None = None,
    province: str | None = None,
    city: str | None = None,
    jurisdiction: str | None = None,
    rule: str | None = None,
    search: str | None = None,
    assignee: str | None = None,
    min_age_days: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts of ``status`` (open, snoozed, new, acknowledged, investigating, closed, all),
    of one ``tier``, ``province`` and ``city`` if given (regions compared normalized), of one
    district (``jurisdiction``, any spelling, placed as the digests route:
    ``settings.digest.routing_address``), with one ``rule`` among their hits, matching
    ``search`` in name or register number, given to ``assignee`` (``none``: nobody), opened
    more than ``min_age_days`` before the latest warn day; most severe first. The console's
    queue is the same query, with the user's districts as its scope."""
    from watchtower.warn import list_alerts as _list_alerts

    with _store(settings).connect() as conn:
        return _list_alerts(
            conn,
            status=status,
            tier=tier,
            province=province,
            city=city,
            jurisdiction=jurisdiction,
            rule=rule,
            search=search,
            address=settings.digest.routing_address,
            assignee=assignee,
            min_age_days=min_age_days,
        )


def alert_metrics(
    settings: Settings,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    jurisdiction: str | None = None,
    clock: Clock | None = None,
) -> AlertMetrics:
    """The oversight figures of every district (or one ``jurisdiction``) over the alerts
    opened from ``start`` to ``end`` (default: the 90 days up to the clock's day), overdue
    judged on the clock's day under ``models/service_levels.yaml``: the console's /metrics,
    the same query (``watchtower.warn.alert_metrics``)."""
    from watchtower.warn import alert_metrics as _alert_metrics
    from watchtower.warn import load_service_levels

    today = (clock or SystemClock()).today()
    end = end or today
    start = start or end - dt.timedelta(days=89)
    levels = load_service_levels(settings.models_dir)
    with _store(settings).connect() as conn:
        return _alert_metrics(
            conn,
            start=start,
            end=end,
            levels=levels,
            as_of=today,
            jurisdiction=jurisdiction,
            by_district=True,
            address=settings.digest.routing_address,
        )


def alert_with_trail(settings: Settings, ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One alert (an id, or a register number: its open alert, else its latest) and its audit
    trail, oldest first. Raises AlertError when there is none."""
    from watchtower.warn import alert_trail, get_alert

    with _store(settings).connect() as conn:
        alert = get_alert(conn, ref)
        return alert, alert_trail(conn, alert["id"])


def transition_alert(
    settings: Settings,
    ref: str,
    to_status: str,
    *,
    by: str,
    note: str | None = None,
    resolution: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Move an alert to ``to_status`` by a person (acknowledge, investigate, close with a
    ``resolution``), in the audit trail; the clock dates it. Raises AlertError when the move
    is not allowed."""
    from watchtower.warn import transition

    clock = clock or SystemClock()
    with _store(settings).begin() as conn:
        return transition(
            conn,
            ref,
            to_status,
            by=by,
            note=note,
            as_of=clock.today(),
            now=clock.now(),
            resolution=resolution,
        )


def snooze_alert(
    settings: Settings,
    ref: str,
    *,
    until: dt.date,
    by: str,
    note: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Snooze an open alert until ``until`` (a day after the store's latest warn day), in the
    audit trail; the clock dates the change. Raises AlertError when it cannot be snoozed."""
    from watchtower.warn import snooze

    clock = clock or SystemClock()
    with _store(settings).begin() as conn:
        return snooze(
            conn, ref, until=until, by=by, note=note, as_of=clock.today(), now=clock.now()
        )


def unsnooze_alert(
    settings: Settings,
    ref: str,
    *,
    by: str,
    note: str | None = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """End an alert's snooze now, in the audit trail. Raises AlertError when it sleeps not."""
    from watchtower.warn import unsnooze

    clock = clock or SystemClock()
    with _store(settings).begin() as conn:
        return unsnooze(conn, ref, by=by, note=note, as_of=clock.today(), now=clock.now())


def alerts_open_on(settings: Settings, day: dt.date | None) -> list[dict[str, Any]]:
    """Alerts open on ``day`` (None: every alert ever), by id: what ``alerts export`` writes."""
    from watchtower.warn import alerts_open_on as _open_on

    with _store(settings).connect() as conn:
        return _open_on(conn, day)


def manager_profile(
    settings: Settings, register_no: str, as_of: dt.date | None = None
) -> ManagerProfile | None:
    """A manager's profile as known on ``as_of`` (None: everything known); None when the
    register number is not known by then."""
    from watchtower.managers import manager_profile as _profile

    return _profile(_store(settings), register_no, as_of)


def related_managers(settings: Settings, register_no: str, as_of: dt.date) -> list[RelatedManager]:
    """Every manager sharing a person or an address with this one as known on ``as_of``
    (the operator's view: no district scope), with its tier and latest incident."""
    from watchtower.managers import related_managers as _related

    with _store(settings).connect() as conn:
        return _related(conn, register_no, districts=None, as_of=as_of)


def list_models(settings: Settings) -> list[ModelRecord]:
    """Every registered model, newest first."""
    from watchtower.detect import list_models as _list_models

    return _list_models(_store(settings))


def get_model(settings: Settings, model_id: str) -> ModelRecord:
    """One registered model; RegistryError for an unknown id."""
    from watchtower.detect import get_model as _get_model

    return _get_model(_store(settings), model_id)


def promote_model(
    settings: Settings,
    model_id: str,
    *,
    actor: str | None,
    reason: str | None,
    clock: Clock | None = None,
) -> ModelRecord:
    """Make ``model_id`` the champion (the previous one is retired), in the registry audit."""
    from watchtower.detect import promote

    return promote(
        _store(settings), model_id, clock=clock or SystemClock(), actor=actor, reason=reason
    )


def rollback_model(
    settings: Settings, *, actor: str | None, reason: str | None, clock: Clock | None = None
) -> ModelRecord:
    """Reinstate the previous champion (the current one is retired)."""
    from watchtower.detect import rollback

    return rollback(_store(settings), clock=clock or SystemClock(), actor=actor, reason=reason)


def sign_model(
    settings: Settings,
    model_id: str,
    *,
    trust: bool,
    actor: str | None,
    clock: Clock | None = None,
) -> tuple[ModelRecord, bool]:
    """Sign a registered model's record ((record, whether it changed)); see
    :func:`watchtower.detect.registry.sign_model`."""
    from watchtower.detect import sign_model as _sign

    return _sign(
        _store(settings),
        settings.artifacts_dir,
        model_id,
        trust=trust,
        clock=clock or SystemClock(),
        actor=actor,
    )


def export_scores(
    settings: Settings,
    out: Path,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    top_reasons: int = 3,
) -> int:
    """Write the scores of [start, end] to CSV ``out``; returns the rows written."""
    from watchtower.detect import export_scores as _export

    return _export(_store(settings), out, start=start, end=end, top_reasons=top_reasons)


# --- the console's accounts and application (watchtower.console) ---------------------------


def add_user(
    settings: Settings,
    username: str,
    role: str,
    jurisdictions: Iterable[str],
    password: str,
    *,
    actor: str,
    clock: Clock | None = None,
) -> User:
    """Create a console account (role supervisor with its districts, analyst or admin), its
    password hashed with argon2id; AccountError when anything is refused."""
    from watchtower.console import run_add_user

    now = (clock or SystemClock()).now()
    return run_add_user(
        _store(settings), username, role, jurisdictions, password, actor=actor, now=now
    )


def list_users(settings: Settings) -> list[User]:
    """Every console account, by username (no password hashes)."""
    from watchtower.console import list_users as _list_users

    with _store(settings).connect() as conn:
        return _list_users(conn)


def disable_user(
    settings: Settings, username: str, *, actor: str, clock: Clock | None = None
) -> User:
    """Disable a console account; its sessions end at once."""
    from watchtower.console import run_disable_user

    return run_disable_user(
        _store(settings), username, actor=actor, now=(clock or SystemClock()).now()
    )


def set_password(
    settings: Settings, username: str, password: str, *, actor: str, clock: Clock | None = None
) -> User:
    """Set a console account's password; its sessions end at once."""
    from watchtower.console import run_set_password

    return run_set_password(
        _store(settings), username, password, actor=actor, now=(clock or SystemClock()).now()
    )


def console_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The supervisor console's ASGI application on the configured store (``watchtower
    serve`` runs it with uvicorn); the cookie secret is checked now, so a bad one is an
    error before the server starts."""
    from watchtower.console import create_app

    return create_app(settings, clock=clock)
