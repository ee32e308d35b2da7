"""``watchtower ingest``: load a landing folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from watchtower import pipeline
from watchtower.cli._app import DbOption, JsonOption, app, fail, print_json, settings_for


@app.command()
def ingest(
    landing_dir: Annotated[
        Path | None,
        typer.Argument(
            help="Landing folder in the data contract (managers/, funds/, reports/, events/, "
            "incidents/). Default: WATCHTOWER_LANDING_DIR, else $WATCHTOWER_HOME/landing."
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Load every landing file into the point-in-time store.

    One transaction per file. Bad rows go to quarantine with row, field and reason; files that
    cannot be read are recorded as failed batches; a file whose content was loaded before is
    skipped. Exit code 1 when any file failed or was rejected.
    """
    settings = settings_for(db)
    folder = landing_dir or settings.landing_dir
    if not folder.is_dir():
        fail(f"landing folder not found: {folder}")

    def bar(files):  # type: ignore[no-untyped-def]
        return tqdm(list(files), desc="ingest", unit="file", disable=quiet, leave=False)

    summary = pipeline.ingest(settings, folder, progress=bar)
    if as_json:
        print_json(summary)
    else:
        for r in summary.results:
            if r.status in ("failed", "rejected"):
                typer.secho(f"{r.status}: {r.path}: {r.message}", fg=typer.colors.RED, err=True)
        typer.echo(
            f"{summary.files} files: {summary.files_loaded} loaded, {summary.files_skipped} "
            f"skipped (seen before), {summary.files_failed} failed, {summary.files_rejected} "
            f"rejected; rows read {summary.rows_read}, loaded {summary.rows_loaded}, "
            f"quarantined {summary.rows_quarantined}"
        )
    if summary.files_failed or summary.files_rejected:
        raise typer.Exit(1)
