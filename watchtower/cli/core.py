"""Store administration commands."""

from __future__ import annotations

import typer

from watchtower.cli._app import DbOption, app, settings_for

db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the store's tables to the newest schema (Alembic)."""
    from watchtower import pipeline

    url, before, after = pipeline.upgrade_store(settings_for(db))
    typer.echo(f"store {url}: {sorted(before) or 'empty'} -> {sorted(after)}")
