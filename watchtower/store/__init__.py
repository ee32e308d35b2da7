"""The store: SQLAlchemy 2 schema, engine and Alembic migrations.

Every table of every stage hangs off :data:`metadata`; importing this package registers them.
"""

from watchtower.store import schema
from watchtower.store.engine import open_store, upgrade
from watchtower.store.schema import HISTORY, HISTORY_TABLES, metadata

__all__ = ["HISTORY", "HISTORY_TABLES", "metadata", "open_store", "schema", "upgrade"]

from watchtower.store import scoring  # noqa: E402  (registers its tables)
from watchtower.store import alerts  # noqa: E402  (registers its tables)
from watchtower.store import models  # noqa: E402  (registers its tables)
from watchtower.store import features  # noqa: E402  (registers its tables)
from watchtower.store import validation  # noqa: E402  (registers its tables)
