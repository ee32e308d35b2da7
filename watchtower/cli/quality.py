"""``watchtower validate`` (dry run of the quality gate) and ``watchtower quality``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from tqdm import tqdm

from watchtower import pipeline
from watchtower.cli._app import (
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    sane_day,
    settings_for,
)
from watchtower.clock import SystemClock
from watchtower.contract import SOURCES
from watchtower.text import terminal_text

if TYPE_CHECKING:  # annotations only: the validate package loads Great Expectations' suites
    from watchtower.validate import DriftRow, RefusedBatch

if TYPE_CHECKING:
    from watchtower.ingest import LandingFile


@app.command("validate")
def validate(
    landing_dir: Annotated[
        Path,
        typer.Argument(help="Landing folder in the data contract (managers/, funds/, ...)."),
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
    no_docs: Annotated[bool, typer.Option("--no-docs", help="Skip building Data Docs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Dry run: read, parse and validate every landing file as ingest would; load nothing.

    Prints per file what ingest would do (load with N rows quarantined, reject the batch, or
    fail to read it) and the failing checks, and builds GX Data Docs into
    $WATCHTOWER_HOME/data_docs. Exit code 1 when a file would be rejected or failed.
    数据质量预检：按入库规则校验落地文件，不写入数据库。
    """
    settings = settings_for(db)
    if not landing_dir.is_dir():
        fail(f"landing folder not found: {landing_dir}")

    def bar(files: Iterable[LandingFile]) -> Iterable[LandingFile]:
        shown: Iterable[LandingFile] = tqdm(  # tqdm has no types
            list(files), desc="validate", unit="file", disable=quiet, leave=False
        )
        return shown

    summary = pipeline.validate_landing(
        settings, landing_dir, today=SystemClock().today(), build_docs=not no_docs, progress=bar
    )
    if as_json:
        print_json(summary)
    else:
        for r in summary.results:
            color = {"ok": None, "rejected": typer.colors.RED, "failed": typer.colors.RED}[r.status]
            line = f"{r.status:8} {terminal_text(r.path)}: {r.rows} rows"
            if r.status == "ok":
                line += f", {r.parse_failed_rows + r.failed_rows} would be quarantined"
            typer.secho(line, fg=color)
            if r.message:
                typer.secho(f"         {terminal_text(r.message)}", fg=color)
            for check, n in list(r.failures_by_expectation.items())[:8]:
                typer.echo(f"         {n:>8,}  {terminal_text(check)}")
            for example in r.examples[:3]:
                typer.echo(f"         e.g. {terminal_text(example[:200])}")
        typer.echo(
            f"{summary.files} files: {summary.files_ok} ok, {summary.files_rejected} rejected, "
            f"{summary.files_failed} failed; {summary.rows:,} rows, "
            f"{summary.quarantined_rows:,} would be quarantined"
            + (f"; data docs: {summary.data_docs}" if summary.data_docs else "")
        )
    if summary.files_rejected or summary.files_failed:
        raise typer.Exit(1)


@app.command("quality")
def quality(
    db: DbOption = None,
    as_json: JsonOption = False,
    source: Annotated[
        str | None, typer.Option("--source", help=f"Only one source: {', '.join(SOURCES)}.")
    ] = None,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            "--since",
            formats=["%Y-%m-%d"],
            callback=sane_day,
            help="Only days from this date on.",
        ),
    ] = None,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="Vocabulary drift instead: enum values outside the contract (value, rows, "
            "first and last seen).",
        ),
    ] = False,
    refused: Annotated[
        bool,
        typer.Option(
            "--batches", help="Rejected or failed batches waiting for `watchtower readmit`."
        ),
    ] = False,
) -> None:
    """Per-source pass rates over time, from the stored validation results.

    One line per day (the file's date, else the ingest day) and source: batches, rejected
    batches, rows validated, rows failing quarantine checks, pass rate.
    各数据源每日数据质量通过率。
    """
    if source is not None and source not in SOURCES:
        fail(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    settings = settings_for(db)
    if drift:
        _print_drift(pipeline.drift_report(settings, source=source), as_json)
        return
    if refused:
        _print_refused(pipeline.refused_batches(settings), as_json)
        return
    rows = pipeline.quality_report(settings, source=source, since=since.date() if since else None)
    if as_json:
        print_json([{**r.__dict__, "pass_rate": round(r.pass_rate, 6)} for r in rows])
        return
    if not rows:
        typer.echo("no validation results stored yet (run `watchtower ingest` first)")
        return
    typer.echo(
        f"{'day':10}  {'source':9} {'batches':>7} {'rejected':>8} {'rows':>10} "
        f"{'failed':>8} {'pass rate':>9}"
    )
    for r in rows:
        typer.echo(
            f"{r.day.isoformat():10}  {terminal_text(r.source):9} {r.batches:>7} {r.rejected:>8} "
            f"{r.rows:>10,} {r.failed_rows:>8,} {r.pass_rate:>9.2%}"
        )


def _print_drift(rows: list[DriftRow], as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no vocabulary drift: every enumerated value is in the contract")
        return
    typer.echo(
        "Vocabulary drift 词表漂移 (values outside the contract's sets; rows loaded, flagged)"
    )
    typer.echo(
        f"{'source':14} {'field':22} {'rows':>7}  {'first seen':10}  {'last seen':10}  value"
    )
    for r in rows:
        typer.echo(
            f"{terminal_text(r.source):14} {terminal_text(r.field):22} {r.count:>7}  "
            f"{r.first_seen.isoformat():10}  "
            f"{r.last_seen.isoformat():10}  {terminal_text(r.value)}"
        )


def _print_refused(rows: list[RefusedBatch], as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("no rejected or failed batch is waiting for re-admission")
        return
    for r in rows:
        where = r.file_path + (f"#{r.part}" if r.part else "")
        typer.echo(
            f"batch {r.batch_id} {terminal_text(r.status)} ({terminal_text(r.source)}, "
            f"{r.rows_read} rows): "
            f"{terminal_text(where)}: {terminal_text(r.message or '')}"
        )
    typer.echo(
        "fix the suite or expectations/aliases.yaml, then: watchtower readmit ID ... | --all"
    )
