"""``watchtower demo``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from watchtower.cli._app import DbOption, app, settings_for


@app.command()
def demo(
    managers: Annotated[int, typer.Option(help="Managers in the synthetic world.")] = 300,
    start: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="World start.")
    ] = dt.datetime(2022, 1, 1),
    end: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="World end = as-of day.")
    ] = dt.datetime(2024, 12, 31),
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same world.")] = 2024,
    db: DbOption = None,
) -> None:
    """Run the whole flow on a small synthetic world and say where the outputs are.

    Writes a landing folder under $WATCHTOWER_HOME/demo/landing (default ./var), ingests it into
    the store (default: the embedded SQLite file ./var/watchtower.db) and runs every step as of
    the world's end date.
    """
    from watchtower.demo import run_demo

    settings = settings_for(db)
    typer.echo(
        f"Watchtower demo: {managers} managers, {start:%Y-%m-%d} to {end:%Y-%m-%d}, seed {seed}"
    )
    summary = run_demo(
        settings, managers=managers, start=start.date(), end=end.date(), seed=seed, echo=typer.echo
    )
    total = sum(s for _, s, _ in summary.steps)
    typer.echo("")
    typer.echo(f"Done in {total:.0f} s. Store: {summary.db_url}")
    typer.echo(f"Landing folder: {summary.landing_dir}")
    if summary.digest_html:
        typer.echo(f"Open a digest: {summary.digest_html}")
    typer.echo("Explore: watchtower alerts list | watchtower quality | watchtower models list")
