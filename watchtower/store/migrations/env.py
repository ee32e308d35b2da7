"""Alembic environment: runs against the engine handed in by watchtower.store.engine."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

import watchtower.store  # noqa: F401  (registers every table on the metadata)
from watchtower.store.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` CLI use: take the URL from the settings
    from watchtower.config import load_settings
    from watchtower.store.engine import create_engine

    engine = create_engine(load_settings().db_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if isinstance(connection, sa.Connection) and connection.in_transaction():
        connection.commit()
