"""``watchtower backtest`` and ``watchtower evaluate``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from watchtower.cli._app import (
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    sane_day,
    settings_for,
)

_DATE = ["%Y-%m-%d"]


def _bar(days: Iterable[dt.date]) -> Iterator[dt.date]:
    from tqdm import tqdm

    items = list(days)
    bar = tqdm(items, desc="backtest", unit="day", dynamic_ncols=True, leave=True)
    for day in bar:
        bar.set_postfix_str(str(day))
        yield day


@app.command()
def backtest(
    start: Annotated[
        dt.datetime,
        typer.Option(
            formats=_DATE, callback=sane_day, help="First as-of day considered (YYYY-MM-DD)."
        ),
    ],
    end: Annotated[
        dt.datetime,
        typer.Option(
            formats=_DATE, callback=sane_day, help="Last as-of day considered (YYYY-MM-DD)."
        ),
    ],
    freq: Annotated[
        str,
        typer.Option(help="weekly (Sundays), monthly (month ends) or quarterly (quarter ends)."),
    ] = "monthly",
    force: Annotated[
        bool, typer.Option("--force", help="Recompute days already done (default: skip them).")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replay features, scores and tiers on past as-of days, point in time.

    回测:按历史时点逐日重算特征、评分与预警级别。Each day sees only what was known by then.
    Days already done are skipped, so an interrupted backtest resumes; --force redoes them.
    Then run `watchtower evaluate`.
    """
    from watchtower import pipeline

    if freq not in ("weekly", "monthly", "quarterly"):
        fail(f"--freq must be weekly, monthly or quarterly, not {freq!r}")
    settings = settings_for(db)
    try:
        summary = pipeline.backtest(
            settings, start.date(), end.date(), freq, force=force, progress=_bar
        )
    except ValueError as exc:
        fail(str(exc))
        return
    if as_json:
        print_json(summary)
        return
    per_day = summary.seconds / len(summary.ran) if summary.ran else 0.0
    typer.echo(
        f"backtest {summary.start} – {summary.end} ({freq}): {len(summary.days)} days, "
        f"{len(summary.ran)} computed in {summary.seconds:.1f} s ({per_day:.1f} s/day), "
        f"{len(summary.skipped)} already done"
    )
    if summary.ran:
        tiers = ", ".join(f"{t} {n}" for t, n in summary.tiers_last.items())
        typer.echo(f"last day {summary.ran[-1]}: {summary.scored_last} managers scored; {tiers}")
    for note in summary.notes:
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)
    typer.echo("next: watchtower evaluate [--labels PATH] [--truth PATH]")


@app.command()
def evaluate(
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Incidents file or folder in the data contract (default: the incidents "
            "already ingested into the store)."
        ),
    ] = None,
    start: Annotated[
        dt.datetime | None,
        typer.Option(formats=_DATE, callback=sane_day, help="First stored day to evaluate."),
    ] = None,
    end: Annotated[
        dt.datetime | None,
        typer.Option(formats=_DATE, callback=sane_day, help="Last stored day to evaluate."),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="A synthetic world's _truth/scenarios.csv (or the world's folder): adds the "
            "share of planted benign outliers in the top 5%."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the JSON and HTML report (default $WATCHTOWER_HOME/reports)."
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure how early and how precisely the backtested warnings came, beside two baselines.

    评估:在回测日期上计算AUC、前k名精确率、提前预警召回率、提前天数与误报率,并与"仅规则"和
    "单一孤立森林"两个基准对比。Horizons 90/180/365 days. Writes a JSON file and an HTML report
    with plots.
    """
    from watchtower import pipeline
    from watchtower.evaluate import EvaluationError, LabelError

    settings = settings_for(db)
    try:
        summary = pipeline.evaluate(
            settings,
            labels,
            start.date() if start else None,
            end.date() if end else None,
            truth,
            out_dir=out,
        )
    except (EvaluationError, LabelError) as exc:
        fail(str(exc))
        return
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"evaluation of {summary.days} days {summary.start} – {summary.end}: {summary.managers} "
        f"managers, {summary.incidents} with incidents ({summary.labels}), observed until "
        f"{summary.observed_until}; baselines tiered at the same alert budget (* = best)"
    )
    for line in summary.table:
        typer.echo(line)
    typer.echo(summary.calibration_line)
    for note in summary.notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW, err=True)
    typer.echo(f"report: {summary.html_path}")
    typer.echo(f"json:   {summary.json_path}")
