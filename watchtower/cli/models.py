"""``watchtower run | score``, ``watchtower models list|train|promote|rollback|show|sign`` and
``watchtower scores export``: detection and the model registry."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path
from typing import Annotated

import typer

from watchtower.cli._app import (
    AsOfOption,
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    sane_day,
    settings_for,
)
from watchtower.clock import SystemClock
from watchtower.text import terminal_text as esc

models_app = typer.Typer(
    help="Model registry: list, train, promote and roll back risk models (模型登记).",
    no_args_is_help=True,
)
scores_app = typer.Typer(help="Risk scores (风险评分).", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(scores_app, name="scores")

TrustOption = Annotated[
    bool,
    typer.Option(
        "--trust",
        help="Load a model file even when it is outside the artifacts folder, its sha256 does "
        "not match the registry or its record's signature does not verify. Loading runs code "
        "from the file: only for files you made.",
    ),
]
_DATE = ["%Y-%m-%d"]


def _day(as_of: dt.datetime | None) -> dt.date:
    return as_of.date() if as_of else SystemClock().today()


def _actor() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return None


def _print_score(s: object) -> None:
    from watchtower.detect import ScoreSummary

    assert isinstance(s, ScoreSummary)
    part = f" partition {s.partition}" if s.partition else ""
    typer.echo(
        f"{s.as_of}{part}: {s.managers_scored} managers scored with {s.model_id} "
        f"(feature set {s.feature_set_version}); {s.with_rule_hits} with rule hits, "
        f"{s.at_least_50} scoring >= 50, mean {s.mean_score:.1f}, max {s.max_score:.1f}"
    )
    if s.supervised_cutoff is not None:
        typer.echo(
            f"  supervised layer: cut-off {s.supervised_cutoff}, {s.supervised_rows} training "
            f"rows, {s.supervised_positives} positive"
        )
    else:
        typer.echo(f"  no supervised layer: {s.supervised_note or 'none'}")


@app.command("run")
def run_cmd(
    as_of: AsOfOption = None,
    trust: TrustOption = False,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Features, then risk scores (0-100) with reasons, for the as-of day (每日运行).

    Computes and stores the day's features (unless stored), scores every manager with the
    champion model (without one: models/detectors.yaml and a walk-forward supervised layer
    trained on labels known by the month end) and stores the scores. Re-running a day
    replaces its scores.
    """
    from watchtower import pipeline
    from watchtower.detect import RegistryError

    settings = settings_for(db)
    try:
        s = pipeline.run(settings, _day(as_of), clock=SystemClock(), trust=trust)
    except (RegistryError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
        return
    if json:
        print_json(s)
        return
    typer.echo(f"{s.as_of}: features for {s.managers_with_features} managers")
    _print_score(s.score)


@app.command("score")
def score_cmd(
    as_of: AsOfOption = None,
    partition: Annotated[
        str | None,
        typer.Option(
            help="Only this manager-type partition's rows (see: watchtower features partitions)."
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="Score with this model file instead of the champion (needs --trust "
            "unless it is a registered artifact)."
        ),
    ] = None,
    trust: TrustOption = False,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Score the as-of day (features computed if not stored yet) with the champion model, or
    without one with models/detectors.yaml and a walk-forward supervised layer."""
    from watchtower import pipeline
    from watchtower.detect import RegistryError

    settings = settings_for(db)
    try:
        s = pipeline.score(
            settings, _day(as_of), partition, clock=SystemClock(), trust=trust, model_path=model
        )
    except (RegistryError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
        return
    print_json(s) if json else _print_score(s)


@models_app.command("list")
def models_list(db: DbOption = None, json: JsonOption = False) -> None:
    """Every registered model, newest first; the champion is marked with *."""
    from watchtower import pipeline

    records = pipeline.list_models(settings_for(db))
    if json:
        print_json([r.__dict__ for r in records])
        return
    if not records:
        typer.echo("no models registered yet: watchtower models train --as-of YYYY-MM-DD")
        return
    for r in records:
        mark = "*" if r.status == "champion" else " "
        auc = r.metrics.get("holdout_supervised_auc")
        auc_text = f" holdout AUC {auc:.3f}" if isinstance(auc, int | float) else ""
        typer.echo(
            f"{mark} {esc(r.id)}  {esc(r.status):<10} {esc(r.kind):<20} "
            f"features {esc(r.feature_set_version)}  "
            f"window {r.train_start or '-'}..{r.train_end}  {r.created_at:%Y-%m-%d %H:%M}"
            f"{auc_text}"
        )


@models_app.command("show")
def models_show(
    model_id: Annotated[str, typer.Argument(help="Model id.")], db: DbOption = None
) -> None:
    """Everything recorded about one model (JSON)."""
    from watchtower import pipeline
    from watchtower.detect import RegistryError

    try:
        print_json(pipeline.get_model(settings_for(db), model_id).__dict__)
    except RegistryError as exc:
        fail(str(exc))


@models_app.command("train")
def models_train(
    as_of: AsOfOption = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make the new model the champion right away.")
    ] = False,
    supervised: Annotated[
        bool | None,
        typer.Option(
            "--supervised/--no-supervised",
            help="Force the supervised layer on or off (default: models/detectors.yaml).",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option(help="Free text kept with the model.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Train a model with cut-off --as-of (incidents known by then) and register it.

    The first model ever trained becomes the champion; later ones are challengers until
    promoted (watchtower models promote ID).
    """
    from watchtower import pipeline
    from watchtower.detect import DetectConfigError

    settings = settings_for(db)
    try:
        s = pipeline.train(
            settings,
            _day(as_of),
            clock=SystemClock(),
            supervised=supervised,
            promote=promote,
            note=note,
            actor=_actor(),
            progress=not quiet,
        )
    except (DetectConfigError, ValueError) as exc:
        fail(str(exc))
        return
    if json:
        print_json(s)
        return
    typer.echo(
        f"registered {s.model_id} ({s.kind}, {s.status}), feature set "
        f"{s.feature_set_version}, window {s.train_start}..{s.train_end}"
    )
    for k, v in sorted(s.metrics.items()):
        typer.echo(f"  {k}: {v}")


@models_app.command("promote")
def models_promote(
    model_id: Annotated[str, typer.Argument(help="Model id (watchtower models list).")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit).")] = None,
    db: DbOption = None,
) -> None:
    """Make a model the champion used for scoring; the previous champion is retired."""
    from watchtower import pipeline
    from watchtower.detect import RegistryError

    try:
        r = pipeline.promote_model(
            settings_for(db), model_id, clock=SystemClock(), actor=_actor(), reason=reason
        )
    except RegistryError as exc:
        fail(str(exc))
        return
    typer.echo(f"{r.id} is now the champion")


@models_app.command("rollback")
def models_rollback(
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit).")] = None,
    db: DbOption = None,
) -> None:
    """Reinstate the previous champion (the current one is retired)."""
    from watchtower import pipeline
    from watchtower.detect import RegistryError

    try:
        r = pipeline.rollback_model(
            settings_for(db), clock=SystemClock(), actor=_actor(), reason=reason
        )
    except RegistryError as exc:
        fail(str(exc))
        return
    typer.echo(f"rolled back: {r.id} is the champion again")


@models_app.command("sign")
def models_sign(
    model_id: Annotated[str, typer.Argument(help="Model id (watchtower models list).")],
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Required: you vouch that the model's file is yours (nothing can verify it).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Sign a model registered before records were signed, or after the key changed.

    The file must still hash to its recorded sha256; the signing is kept in the audit.
    """
    from watchtower import pipeline
    from watchtower.detect import RegistryError

    try:
        r, changed = pipeline.sign_model(
            settings_for(db), model_id, trust=trust, clock=SystemClock(), actor=_actor()
        )
    except RegistryError as exc:
        fail(str(exc))
        return
    typer.echo(f"{esc(r.id)} signed" if changed else f"{esc(r.id)} was already signed")


@scores_app.command("export")
def scores_export(
    out: Annotated[Path, typer.Argument(help="CSV file to write (UTF-8 with BOM).")],
    start: Annotated[
        dt.datetime | None,
        typer.Option(formats=_DATE, callback=sane_day, help="First as-of day (YYYY-MM-DD)."),
    ] = None,
    end: Annotated[
        dt.datetime | None,
        typer.Option(formats=_DATE, callback=sane_day, help="Last as-of day (YYYY-MM-DD)."),
    ] = None,
    top: Annotated[int, typer.Option(help="Reasons per manager.")] = 3,
    db: DbOption = None,
) -> None:
    """Write scores to CSV: register_no, manager_name, as_of, score, tier, components, rule
    hits, top reasons (zh, en), model. Formula-like cells are neutralized for spreadsheets."""
    from watchtower import pipeline

    if start and end and start > end:
        fail("--start is after --end")
    n = pipeline.export_scores(
        settings_for(db),
        out,
        start=start.date() if start else None,
        end=end.date() if end else None,
        top_reasons=top,
    )
    typer.echo(f"{n} scores -> {out}")
