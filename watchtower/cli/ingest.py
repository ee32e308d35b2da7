"""``watchtower ingest``: load a landing folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from tqdm import tqdm

from watchtower import pipeline
from watchtower.cli._app import DbOption, JsonOption, app, fail, print_json, settings_for
from watchtower.text import terminal_text as esc

if TYPE_CHECKING:
    from watchtower.ingest import LandingFile


@app.command()
def ingest(
    landing_dir: Annotated[
        Path | None,
        typer.Argument(
            help="Landing folder: real AMAC crawls as they come (API pages, JSON lists, JSON "
            "Lines, CSV, XLSX, detail-page HTML, crawler bundles; told apart by their shape) "
            "and the supervisor's own feeds (reports/, events/, incidents/). Default: "
            "WATCHTOWER_LANDING_DIR, else $WATCHTOWER_HOME/landing."
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    received: Annotated[
        dt.datetime | None,
        typer.Option(
            "--received",
            formats=["%Y-%m-%d"],
            help="The day this delivery was received (YYYY-MM-DD; default today). A record "
            "already stored for the same key and snapshot date, delivered again with other "
            "content, is a correction known from this day, never earlier.",
        ),
    ] = None,
) -> None:
    """Load every landing file into the point-in-time store.

    One transaction per batch (a file, or one list of a bundle). Rows whose identity cannot
    be trusted go to quarantine with row, field and reason; odd but usable values load with a
    data-quality flag (unknown vocabulary is counted as drift); a batch with a structural
    fault is rejected and its rows counted; unreadable files are failed batches. Content loaded
    before is skipped, and so is content refused before until `watchtower readmit`. Rows read
    = loaded + quarantined + rejected. Exit code 1 when any batch failed or was rejected.

    Landing protocol: a file is read once it carries a `<name>.done` marker or has not been
    modified for WATCHTOWER_LANDING_SETTLE_SECONDS (60; the run waits once for files that are
    about to settle); names starting with `.` or `_` and partial names (.part, .tmp,
    .crdownload, ...) are never read; symlinks leading outside the folder are refused. Every
    file is read under limits (size, nesting depth, spreadsheet dimensions); large CSV and
    JSON Lines files are read in chunks of 50,000 records, each chunk a batch.
    """
    settings = settings_for(db)
    folder = landing_dir or settings.landing_dir
    if not folder.is_dir():
        fail(f"landing folder not found: {folder}")

    def bar(files: Iterable[LandingFile]) -> Iterable[LandingFile]:
        shown: Iterable[LandingFile] = tqdm(  # tqdm has no types
            list(files), desc="ingest", unit="file", disable=quiet, leave=False
        )
        return shown

    summary = pipeline.ingest(
        settings, folder, progress=bar, received=received.date() if received else None
    )
    if as_json:
        print_json(summary)
    else:
        for r in summary.results:
            if r.status in ("failed", "rejected"):
                where = r.path + (f"#{r.part}" if r.part else "")
                where += f" ({r.chunk})" if r.chunk else ""
                typer.secho(
                    f"{r.status}: {esc(where)}: {esc(r.message)}", fg=typer.colors.RED, err=True
                )
        typer.echo(
            f"{summary.files} files ({summary.batches} batches): {summary.files_loaded} "
            f"loaded, {summary.files_skipped} skipped (seen before), {summary.files_failed} "
            f"failed, {summary.files_rejected} rejected; rows read {summary.rows_read}, "
            f"loaded {summary.rows_loaded} (flagged {summary.rows_flagged}, unchanged "
            f"{summary.rows_unchanged}, corrections {summary.rows_corrected}), quarantined "
            f"{summary.rows_quarantined}, rejected {summary.rows_rejected}; "
            f"{summary.change_events} change events"
            + (f"; {summary.files_waiting} files waiting" if summary.files_waiting else "")
        )
        if summary.waiting:
            # not failed: still being written (landing protocol); a later run reads them
            typer.secho(
                f"waiting: {summary.files_waiting} files not read yet (modified less than "
                f"{settings.landing_settle_seconds:g} s ago, no .done marker): a later run "
                "reads them",
                fg=typer.colors.YELLOW,
                err=True,
            )
            for path in summary.waiting[:10]:
                typer.secho(f"  {esc(path)}", fg=typer.colors.YELLOW, err=True)
    if summary.files_failed or summary.files_rejected:
        raise typer.Exit(1)


@app.command()
def readmit(
    batch_ids: Annotated[
        list[int] | None,
        typer.Argument(help="Batch ids to admit again (see `watchtower quality --batches`)."),
    ] = None,
    all_waiting: Annotated[
        bool, typer.Option("--all", help="Every rejected or failed batch not yet re-admitted.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ingest rejected or failed batches again, after the suite or the aliases were fixed.

    Ingest skips content it refused before, so a fix is applied on purpose: name the batches
    (or --all). The file is read again from where it was found, with the suites and aliases
    as they are now; the old batch records the batch that replaced it. Exit code 1 when a
    re-admitted batch is still refused or its file is gone.
    """
    if not batch_ids and not all_waiting:
        fail("name the batch ids to re-admit, or pass --all")
    settings = settings_for(db)
    try:
        results = pipeline.readmit(settings, None if all_waiting else batch_ids)
    except LookupError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(results)
    else:
        for r in results:
            if r.message:
                typer.secho(f"batch {r.batch_id}: {esc(r.message)}", fg=typer.colors.RED, err=True)
            for f in r.results:
                typer.echo(
                    f"batch {r.batch_id} -> {f.status} as batch {f.batch_id}: rows read "
                    f"{f.rows_read}, loaded {f.rows_loaded}, quarantined {f.rows_quarantined}, "
                    f"rejected {f.rows_rejected}" + (f" ({esc(f.message)})" if f.message else "")
                )
        if not results:
            typer.echo("no rejected or failed batch is waiting for re-admission")
    if any(
        r.message or any(f.status in ("failed", "rejected") for f in r.results) for r in results
    ):
        raise typer.Exit(1)
