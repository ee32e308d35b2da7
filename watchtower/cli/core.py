"""Store administration commands."""

from __future__ import annotations

import typer

from watchtower.cli._app import DbOption, app, settings_for
from watchtower.store.engine import create_engine, current_revisions, upgrade

db_app = typer.Typer(help="Database administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Create or migrate the store's tables to the newest schema (Alembic)."""
    settings = settings_for(db)
    engine = create_engine(settings.db_url)
    before = current_revisions(engine)
    upgrade(engine)
    after = current_revisions(engine)
    typer.echo(
        f"store {engine.url.render_as_string(hide_password=True)}: "
        f"{sorted(before) or 'empty'} -> {sorted(after)}"
    )
