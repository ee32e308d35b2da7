"""``watchtower synth``: write a synthetic landing folder in the data contract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from watchtower.cli._app import JsonOption, app, fail, print_json, sane_day


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the landing data into.")],
    managers: Annotated[int, typer.Option(help="Number of fund managers.", min=1)] = 300,
    start: Annotated[
        dt.datetime,
        typer.Option(formats=["%Y-%m-%d"], callback=sane_day, help="First day of the world."),
    ] = dt.datetime(2022, 1, 1),
    end: Annotated[
        dt.datetime,
        typer.Option(formats=["%Y-%m-%d"], callback=sane_day, help="Last day of the world."),
    ] = dt.datetime(2024, 12, 31),
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 2024,
    family: Annotated[
        str,
        typer.Option(
            help="World family (docs/synthetic-world.md): development (tune on it) or a "
            "locked_* family (report only, never tune on it)."
        ),
    ] = "development",
    force: Annotated[
        bool, typer.Option("--force", help="Write into OUT_DIR even if it is not empty.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Write a realistic synthetic world in the landing contract.

    Quarterly manager and fund snapshots, monthly/quarterly/annual reports, events and
    incidents, in the formats supervisors receive (AMAC API pages with epoch-ms dates,
    GB18030 CSV with Chinese headers, XLSX, JSON Lines). Risky managers deteriorate over months
    before an incident; benign outliers are unusual but healthy. The ground truth is written
    to OUT_DIR/_truth/ (ignored by ingest), with the world family in _truth/family.json.
    Scenarios and families: docs/synthetic-world.md.
    """
    from watchtower.synth import write_world

    if end <= start:
        fail(f"--end {end:%Y-%m-%d} must be after --start {start:%Y-%m-%d}")
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        fail(f"{out_dir} is not empty; choose an empty folder or pass --force")
    try:
        summary = write_world(
            out_dir,
            managers=managers,
            start=start.date(),
            end=end.date(),
            seed=seed,
            family=family,
            progress=None if as_json else lambda msg: typer.echo(msg, err=True),
        )
    except ValueError as exc:
        fail(str(exc))
        return
    if as_json:
        print_json(summary)
        return
    rows = ", ".join(f"{k} {v}" for k, v in summary.rows.items())
    typer.echo(
        f"wrote {summary.files} files to {summary.out_dir} (family {summary.family}): "
        f"{summary.managers} managers, "
        f"{summary.funds} funds ({rows}); {summary.incidents} incidents, "
        f"{summary.benign_outliers} benign outliers; ground truth in {out_dir / '_truth'}"
    )
