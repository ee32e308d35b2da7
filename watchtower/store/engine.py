"""Engine creation and migrations. ``open_store`` brings any database to the newest schema.

The store is one resource per (process, URL): the first ``open_store`` of a URL creates the
engine and checks the migrations; later calls return the same engine, so a CLI command, an
Airflow task or a test pays for the pool and the Alembic check once. Every engine is disposed
at exit (and by :func:`close_store`, for tests). A forked child (an Airflow task, a worker)
never uses its parent's pool: it opens its own engine on first use.

A store that cannot be opened (a corrupt file, a file that is no database, a server that does
not answer, a folder that cannot be created) is a :class:`StoreError`: a ConfigError, so the
CLI reports it as one line, with the URL's password hidden.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from watchtower.config import ConfigError

__all__ = [
    "StoreError",
    "close_store",
    "create_engine",
    "current_revisions",
    "describe_store_error",
    "head_revisions",
    "open_store",
    "store_exists",
    "store_failure",
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


def store_failure(exc: BaseException) -> str | None:
    """One line for a database error met while using an open store (the server went away,
    the disk is full, a lock timed out): ``the store failed: ...``. None for anything else,
    including an IntegrityError or a ProgrammingError: a bug, whose traceback is kept."""
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.DatabaseError):
        return None
    if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError):
        return None
    orig = str(getattr(exc, "orig", None) or exc).strip()
    return f"the store failed: {orig.splitlines()[0] if orig else type(exc).__name__}"


def store_exists(db_url: str) -> bool:
    """Whether there is a store at ``db_url`` to read: False for a SQLite file not created yet
    (or one in memory), True for a server (asked when opened). A dry run reads the store only
    when it exists, so it never creates one."""
    url = sa.make_url(db_url)
    if url.drivername.startswith("sqlite"):
        return bool(url.database) and Path(str(url.database)).exists()
    return True


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


#: The open stores of this process, by (pid, URL). The pid is part of the key: after a fork,
#: the parent's engines (and their sockets) belong to the parent.
_STORES: dict[tuple[int, str], sa.Engine] = {}
_LOCK = threading.Lock()


def open_store(db_url: str) -> sa.Engine:
    """The engine of ``db_url`` for this process, migrated to the newest schema if it is
    behind (or empty). Created and checked on the first call for a URL, then shared.

    Raises StoreError when it cannot be opened: its folder cannot be created, the file is no
    (or a corrupt) database, the server does not answer or refuses the login. A store that
    failed is not remembered: the next call tries again.
    """
    key = (os.getpid(), db_url)
    engine = _STORES.get(key)
    if engine is not None:
        return engine
    with _LOCK:  # two threads opening the same URL: one engine, one migration check
        engine = _STORES.get(key)
        if engine is None:
            engine = _open(db_url)
            _STORES[key] = engine
    return engine


def close_store(db_url: str | None = None) -> None:
    """Dispose this process's engine of ``db_url`` (None: every one) and forget it; the next
    ``open_store`` creates and checks it anew. Run at exit; tests call it to release a file."""
    pid = os.getpid()
    with _LOCK:
        keys = [k for k in _STORES if k[0] == pid and (db_url is None or k[1] == db_url)]
        engines = [_STORES.pop(k) for k in keys]
    for engine in engines:
        with contextlib.suppress(Exception):  # a server gone at exit: nothing left to release
            engine.dispose()


def _forget_parent_stores() -> None:
    """In a forked child: drop the parent's engines without closing their connections (they
    are the parent's sockets; closing them here would end the parent's sessions)."""
    for engine in _STORES.values():
        engine.dispose(close=False)
    _STORES.clear()


atexit.register(close_store)
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_parent_stores)


def _open(db_url: str) -> sa.Engine:
    """A new engine for ``db_url``, migrated; StoreError when it cannot be opened."""
    engine: sa.Engine | None = None
    try:
        engine = create_engine(db_url)
        if current_revisions(engine) != head_revisions():
            upgrade(engine)
    except (OSError, sa.exc.OperationalError, sa.exc.DatabaseError, sa.exc.ArgumentError) as exc:
        if engine is not None:
            engine.dispose()
        if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError):
            raise  # a bug in a migration, not a store that cannot be opened
        raise StoreError(describe_store_error(db_url, exc)) from None
    except ModuleNotFoundError as exc:  # a driver the URL names is not installed
        raise StoreError(
            f"the store {_safe_url(db_url)} needs the Python package {exc.name!r}, which is "
            "not installed"
        ) from None
    return engine
