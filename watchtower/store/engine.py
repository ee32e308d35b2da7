"""Engine creation and migrations. ``open_store`` brings any database to the newest schema.

A store that cannot be opened (a corrupt file, a file that is no database, a server that does
not answer, a folder that cannot be created) is a :class:`StoreError`: a ConfigError, so the
CLI reports it as one line, with the URL's password hidden.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from watchtower.config import ConfigError

__all__ = [
    "StoreError",
    "create_engine",
    "current_revisions",
    "describe_store_error",
    "head_revisions",
    "open_store",
    "upgrade",
]

_MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(ConfigError):
    """The store cannot be opened or used; the message names it (no password) and why."""


def _safe_url(db_url: str) -> str:
    try:
        return sa.make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # not even a URL: say so without echoing it (it may hold a password)
        return "(the configured URL)"


def describe_store_error(db_url: str, exc: BaseException) -> str:
    """One line saying which store failed and why, never with its password."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, OSError) and orig.strerror:
        reason = f"{orig.strerror}: {orig.filename}" if orig.filename else orig.strerror
    else:
        reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    try:
        password = sa.make_url(db_url).password
    except Exception:
        password = None
    if password:
        reason = reason.replace(str(password), "***")
    hint = ""
    if isinstance(orig, OSError):
        hint = " (WATCHTOWER_HOME must be a folder you can write, or set WATCHTOWER_DB_URL)"
    elif db_url.startswith("sqlite") and ("not a database" in reason or "malformed" in reason):
        hint = " (restore it from a backup, or point WATCHTOWER_DB_URL / --db at another)"
    return f"the store {_safe_url(db_url)} cannot be used: {reason}{hint}"


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
    """Engine for ``db_url``, migrated to the newest schema if it is behind (or empty).

    Raises StoreError when it cannot be opened: its folder cannot be created, the file is no
    (or a corrupt) database, the server does not answer or refuses the login.
    """
    try:
        engine = create_engine(db_url)
        if current_revisions(engine) != head_revisions():
            upgrade(engine)
    except (OSError, sa.exc.OperationalError, sa.exc.DatabaseError, sa.exc.ArgumentError) as exc:
        if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError):
            raise  # a bug in a migration, not a store that cannot be opened
        raise StoreError(describe_store_error(db_url, exc)) from None
    except ModuleNotFoundError as exc:  # a driver the URL names is not installed
        raise StoreError(
            f"the store {_safe_url(db_url)} needs the Python package {exc.name!r}, which is "
            "not installed"
        ) from None
    return engine
