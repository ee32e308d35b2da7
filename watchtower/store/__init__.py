"""The store: SQLAlchemy 2 schema, engine and Alembic migrations.

Every table of every stage hangs off :data:`metadata`; importing this package registers them.
"""

from watchtower.store import (
    alerts,
    console,
    features,
    models,
    pushes,
    schema,
    scoring,
    validation,
)
from watchtower.store.engine import (
    StoreError,
    close_store,
    create_engine,
    current_revisions,
    open_store,
    store_exists,
    store_failure,
    upgrade,
)
from watchtower.store.schema import HISTORY, HISTORY_TABLES, metadata

__all__ = [
    "HISTORY",
    "HISTORY_TABLES",
    "StoreError",
    "alerts",
    "close_store",
    "console",
    "create_engine",
    "current_revisions",
    "features",
    "metadata",
    "models",
    "open_store",
    "pushes",
    "schema",
    "scoring",
    "store_exists",
    "store_failure",
    "upgrade",
    "validation",
]
