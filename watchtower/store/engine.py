"""Engine creation and migrations. ``open_store`` brings any database to the newest schema."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

_MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(db_url: str) -> sa.Engine:
    """Engine for ``db_url``; SQLite files get their folder, WAL and a busy timeout."""
    if db_url.startswith("sqlite"):
        url = sa.make_url(db_url)
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(db_url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(db_url, pool_pre_ping=True)


def _alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revisions() -> set[str]:
    """The newest revisions. Each stage's migrations branch from the foundation, so there may
    be several heads; ``upgrade`` applies them all."""
    return set(ScriptDirectory(str(_MIGRATIONS)).get_heads())


def current_revisions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: sa.Engine, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (``watchtower db upgrade``)."""
    command.upgrade(_alembic_config(engine), revision)


def open_store(db_url: str) -> sa.Engine:
    """Engine for ``db_url``, migrated to the newest schema if it is behind (or empty)."""
    engine = create_engine(db_url)
    if current_revisions(engine) != head_revisions():
        upgrade(engine)
    return engine
