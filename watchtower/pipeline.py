"""The step functions. The CLI and the Airflow DAGs call these and nothing else.

Each step is a plain function of (settings, inputs, as-of date) returning a small frozen
summary. Steps never read the wall clock: the caller passes the as-of date (the DAG's logical
date, the CLI's --as-of) or a Clock.

The steps (names are the contract between the CLI, the DAGs and the areas):
- fetch_public_data(settings, as_of)         -> FetchSummary | None: AMAC lists to landing
- ingest(settings, landing_dir)              -> IngestSummary: load + quality gate + Data Docs
- readmit(settings, batch_ids)               -> re-ingest rejected/failed batches after a fix
- validate_landing / quality_report          -> dry-run validation, pass rates over time
- list_partitions(settings, as_of)           -> peer groups the DAG maps features/score over
- compute_features(settings, as_of, partition=None) -> FeatureSummary
- score(settings, as_of, partition=None)     -> ScoreSummary (0-100 with reasons)
- run(settings, as_of)                       -> features + score (not warn: tiers go in order)
- warn(settings, as_of)                      -> WarnSummary (tiers, alert lifecycle)
- digest / send_outbox                       -> render to the outbox, then SMTP
- train / compare_challenger / promote_challenger -> the model registry
- backtest / evaluate                        -> replay past days, metrics beside baselines
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from watchtower.clock import Clock, SystemClock
from watchtower.config import Settings
from watchtower.ingest import IngestSummary, LandingFile, ReadmitResult, ingest_dir
from watchtower.store import open_store

if TYPE_CHECKING:
    from watchtower.detect.steps import RunSummary, ScoreSummary, TrainSummary
    from watchtower.digest import DigestSummary, Mailer, SendSummary
    from watchtower.evaluate import BacktestSummary
    from watchtower.evaluate.steps import EvaluationSummary
    from watchtower.features.steps import FeatureSummary
    from watchtower.fetch import FetchSummary
    from watchtower.validate.landing import ValidationSummary
    from watchtower.validate.results import DriftRow, QualityRow, RefusedBatch
    from watchtower.warn import WarnSummary


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
    from watchtower.ingest.aliases import load_aliases
    from watchtower.ingest.readers import ReadLimits
    from watchtower.validate.results import IngestGate

    engine = open_store(settings.db_url)
    gate = IngestGate(settings)  # the Great Expectations suites of expectations/
    summary = ingest_dir(
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
    from watchtower.fetch import FetchOptions, fetch_amac

    options = FetchOptions(
        office_province=settings.fetch.office_province,
        register_province=settings.fetch.register_province,
        fetch_date=as_of,
    )
    if settings.fetch.what:
        options = dataclasses.replace(options, what=settings.fetch.what)
    return fetch_amac(settings.landing_dir, options)


def readmit(
    settings: Settings,
    batch_ids: Iterable[int] | None = None,
    *,
    clock: Clock | None = None,
) -> list[ReadmitResult]:
    """Ingest rejected or failed batches again after the suites or aliases were fixed
    (``batch_ids``; None: all waiting). Each old batch records the batch that replaced it."""
    from watchtower.ingest import readmit as readmit_batches
    from watchtower.ingest.aliases import load_aliases
    from watchtower.validate.results import IngestGate

    engine = open_store(settings.db_url)
    gate = IngestGate(settings)
    results = readmit_batches(
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

    engine = open_store(settings.db_url)
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
) -> DigestSummary:
    """Render the digests due on ``as_of`` (per subscription in models/subscriptions.yaml, or
    only those of ``cadence``) into the outbox (``settings.outbox_dir``: .eml + .html), then,
    with ``send``, send the outbox by SMTP (``settings.smtp``). Each (recipient, period,
    subscription) is rendered and sent once, however often this runs. ``to``: instead, one
    ad-hoc digest of every jurisdiction to that address (``cadence`` default daily,
    ``language``, ``min_tier``). ``retry_failed``: first queue the given-up digests again.
    ``mailer`` replaces SMTP (tests).

    Open alerts no subscriber receives go to ``settings.digest.catch_all``; the summary's
    ``problems`` say what needs a person (such alerts without a catch-all, digests given up or
    waiting for a retry). ``strict`` (the DAG): raise :class:`DeliveryError` while there are
    any, so the task fails, retries and mails the data engineers."""
    from watchtower.digest import DeliveryError, adhoc_subscription, requeue_failed, run_digest
    from watchtower.digest.step import delivery_problems
    from watchtower.warn import load_policy, load_subscriptions

    engine = open_store(settings.db_url)
    day = _as_date(as_of)
    now = (clock or SystemClock()).now()
    policy = load_policy(settings.models_dir)
    subs, _ = load_subscriptions(settings.models_dir / "subscriptions.yaml")
    if to:
        subs = [
            adhoc_subscription(to, cadence=cadence or "daily", language=language, min_tier=min_tier)
        ]
    requeued = requeue_failed(engine, now, recipient=to) if retry_failed else 0
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
    )
    summary = replace(summary, requeued=requeued)
    if send:
        sent = send_outbox(settings, day, clock=clock, mailer=mailer, recipient=to, strict=False)
        summary = replace(
            summary,
            sent=sent.sent,
            retry_later=sent.retry_later,
            failed=sent.failed,
            failed_total=sent.failed_total,
            failed_ids=list(sent.failed_ids),
            errors=list(sent.errors),
            problems=delivery_problems(
                unrouted_ids=summary.unrouted_ids,
                catch_all=summary.catch_all,
                retry_later=sent.retry_later,
                failed_ids=sent.failed_ids,
                errors=sent.errors,
            ),
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
) -> SendSummary:
    """Send every pending digest in the outbox by SMTP (``settings.smtp``); failures stay
    pending for the next call (up to ``delivery.max_attempts`` in subscriptions.yaml), then
    are given up (state failed) until ``digest --retry-failed``. ``as_of`` is accepted for the
    DAG's symmetry; the outbox is sent whatever its day.

    Raises :class:`DeliveryError` (carrying the summary) while a digest waits for a retry or
    is given up, so the Airflow task fails, retries and mails the data engineers; ``strict``
    False returns the summary instead."""
    import sqlalchemy as sa

    from watchtower.digest import DeliveryError, SendSummary, mailer_for, send_pending
    from watchtower.digest.step import delivery_problems
    from watchtower.store.alerts import outbox
    from watchtower.warn import load_subscriptions

    engine = open_store(settings.db_url)
    _, delivery = load_subscriptions(settings.models_dir / "subscriptions.yaml")
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "pending")
        ).scalar_one()
    result = send_pending(
        engine,
        mailer or mailer_for(settings.smtp),
        settings.smtp.mail_from,
        delivery,
        (clock or SystemClock()).now(),
        recipient=recipient,
    )
    summary = SendSummary(
        sent=result.sent,
        retry_later=result.retry_later,
        failed=result.failed,
        pending_before=int(pending),
        failed_total=result.failed_total,
        failed_ids=list(result.failed_ids),
        errors=list(result.errors),
        problems=delivery_problems(
            retry_later=result.retry_later, failed_ids=result.failed_ids, errors=result.errors
        ),
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
    from watchtower.detect.steps import train as _train

    return _train(
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
    ``partition``'s rows if given), with the champion model (or the detector config while
    there is none). Re-running a day replaces its rows. The clock stamps created_at."""
    from watchtower.detect.steps import score_day

    return score_day(
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
    from watchtower.detect.steps import run_day

    return run_day(settings, _as_date(as_of), clock=clock or SystemClock(), trust=trust)


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
    from watchtower.evaluate.steps import backtest_step, make_run_day

    return backtest_step(
        settings,
        _as_date(start),
        _as_date(end),
        freq,
        run_day=make_run_day(settings, clock),
        force=force,
        progress=progress,
    )


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
    from watchtower.evaluate.steps import evaluate_step

    summary, _ = evaluate_step(
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
    from watchtower.validate.landing import validate_landing as _validate_landing

    return _validate_landing(
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
    from watchtower.validate.results import quality_over_time

    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        return quality_over_time(conn, source=source, since=since)


def drift_report(settings: Settings, *, source: str | None = None) -> list[DriftRow]:
    """Vocabulary drift: enum values outside the contract's sets, with counts and dates."""
    from watchtower.validate.results import vocabulary_drift

    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        return vocabulary_drift(conn, source=source)


def refused_batches(settings: Settings) -> list[RefusedBatch]:
    """Rejected or failed batches waiting for re-admission."""
    from watchtower.validate.results import refused_batches as refused

    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        return refused(conn)


# --- features (watchtower.features) -------------------------------------------------------


def list_partitions(settings: Settings, as_of: dt.date | dt.datetime) -> list[str]:
    """Peer groups (manager-type slugs: securities, pe_vc, asset_allocation, other, unknown)
    present as of ``as_of``: what the feature and scoring steps are mapped over."""
    from watchtower.features.steps import list_partitions_step

    return list_partitions_step(settings, _as_date(as_of))


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
    from watchtower.features.steps import compute_features_step

    return compute_features_step(settings, _as_date(as_of), partition, clock=clock)


# --- retraining: challenger vs champion (watchtower_retrain DAG) ---------------------------

#: Promote a challenger when its mean AUC beats the champion's by at least this much
#: (models/detectors.yaml ``retrain.promote_margin`` overrides it).
DEFAULT_PROMOTE_MARGIN = 0.01


@dataclasses.dataclass(frozen=True)
class ModelComparison:
    """Challenger vs champion on the same past days (``days``), labels = incidents within the
    supervised horizon after each day, known by ``as_of``. ``better``: the challenger's mean
    AUC is at least ``margin`` above the champion's. ``already_champion``: there was no
    champion, so training promoted the challenger itself."""

    as_of: dt.date
    challenger_id: str
    champion_id: str | None
    days: list[dt.date]
    challenger_auc: float | None
    champion_auc: float | None
    margin: float
    better: bool
    already_champion: bool
    reason: str
    per_day: list[dict[str, object]] = dataclasses.field(default_factory=list)


def compare_challenger(
    settings: Settings, as_of: dt.date | dt.datetime, challenger_id: str
) -> ModelComparison:
    """Backtest the challenger ``challenger_id`` and the champion on the month ends of the
    supervised horizon before ``as_of`` (days whose label window was still open at the
    challenger's cut-off, so it never trained on their labels), point in time: features of
    each day from history known by that day, labels from incidents known by ``as_of``."""
    import math

    import pandas as pd
    import yaml

    from watchtower.detect.config import load_detect_config
    from watchtower.detect.registry import champion, get_model, load_model
    from watchtower.detect.service import features_at, load_catalog, load_incidents, rule_hits_fn
    from watchtower.detect.training import evaluate_model

    day = _as_date(as_of)
    engine = open_store(settings.db_url)
    config = load_detect_config(settings.models_dir / "detectors.yaml")
    raw = yaml.safe_load((settings.models_dir / "detectors.yaml").read_text(encoding="utf-8"))
    retrain = (raw or {}).get("retrain") or {}
    margin = float(retrain.get("promote_margin", DEFAULT_PROMOTE_MARGIN))
    get_model(engine, challenger_id)  # raises RegistryError for an unknown id
    current = champion(engine)
    horizon = config.horizon_days
    days = [
        d.date()
        for d in pd.date_range(day - dt.timedelta(days=horizon), day, freq="ME")
        if d.date() > day - dt.timedelta(days=horizon)
    ]
    if current is not None and current.id == challenger_id:
        return ModelComparison(
            day,
            challenger_id,
            None,
            days,
            None,
            None,
            margin,
            True,
            True,
            "no champion before: the challenger was promoted at training",
        )
    assert current is not None  # train() promotes when there is no champion
    catalog = load_catalog(settings)
    hits = rule_hits_fn(settings, catalog)
    incidents = load_incidents(engine, day)

    def frame(d: dt.date) -> pd.DataFrame:
        return features_at(engine, catalog, d)

    def mean_auc(model_id: str) -> tuple[float | None, pd.DataFrame]:
        model = load_model(engine, settings.artifacts_dir, model_id)
        table = evaluate_model(
            model,
            days,
            frame,
            incidents,
            horizon_days=horizon,
            rule_hits_for=hits,
            known_by=day,
        )
        aucs = [a for a in table.get("auc", pd.Series(dtype=float)) if not math.isnan(a)]
        return (sum(aucs) / len(aucs) if aucs else None), table

    ch_auc, ch_table = mean_auc(challenger_id)
    cp_auc, cp_table = mean_auc(current.id)
    per_day: list[dict[str, object]] = [
        {
            "as_of": str(r["as_of"]),
            "challenger_auc": _num(r.get("auc")),
            "champion_auc": _num(c.get("auc")),
        }
        for (_, r), (_, c) in zip(ch_table.iterrows(), cp_table.iterrows(), strict=False)
    ]
    if ch_auc is None or cp_auc is None:
        better, reason = False, "no incident in the evaluation window: champion kept"
    elif ch_auc >= cp_auc + margin:
        better = True
        reason = f"challenger AUC {ch_auc:.3f} >= champion {cp_auc:.3f} + margin {margin:.3f}"
    else:
        better = False
        reason = f"challenger AUC {ch_auc:.3f} < champion {cp_auc:.3f} + margin {margin:.3f}"
    return ModelComparison(
        day,
        challenger_id,
        current.id,
        days,
        ch_auc,
        cp_auc,
        margin,
        better,
        False,
        reason,
        per_day,
    )


def _num(value: object) -> float | None:
    """A metric as a float, None when missing or NaN."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else number


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
    from watchtower.detect.registry import get_model, promote

    engine = open_store(settings.db_url)
    if get_model(engine, challenger_id).status != "champion":
        promote(engine, challenger_id, clock=clock or SystemClock(), actor=actor, reason=reason)
    return challenger_id
