"""The console's reads of the store: accounts, sessions, login attempts, its audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa

from watchtower.console.accounts import Attempt, User
from watchtower.store.console import console_audit, console_sessions, login_attempts, users

__all__ = [
    "Session",
    "console_audit_rows",
    "find_user",
    "list_users",
    "recent_attempts",
    "session_of",
    "token_hash",
    "user_password_hash",
]

_USER_COLUMNS = (
    "id",
    "username",
    "role",
    "jurisdictions",
    "disabled",
    "created_at",
    "password_changed_at",
)


def _user(row: sa.RowMapping) -> User:
    return User(
        id=int(row["id"]),
        username=str(row["username"]),
        role=str(row["role"]),
        jurisdictions=tuple(row["jurisdictions"] or ()),
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
        password_changed_at=row["password_changed_at"],
    )


def list_users(conn: sa.Connection) -> list[User]:
    """Every account, by username."""
    q = sa.select(*(users.c[c] for c in _USER_COLUMNS)).order_by(users.c.username)
    return [_user(r) for r in conn.execute(q).mappings()]


def find_user(conn: sa.Connection, username: str) -> User | None:
    """The account ``username`` (stored form), or None."""
    q = sa.select(*(users.c[c] for c in _USER_COLUMNS)).where(users.c.username == username)
    row = conn.execute(q).mappings().first()
    return None if row is None else _user(row)


def user_password_hash(conn: sa.Connection, username: str) -> tuple[User, str] | None:
    """The account and its password hash, for a login; None when there is no such account."""
    q = sa.select(*(users.c[c] for c in _USER_COLUMNS), users.c.password_hash).where(
        users.c.username == username
    )
    row = conn.execute(q).mappings().first()
    return None if row is None else (_user(row), str(row["password_hash"]))


def recent_attempts(
    conn: sa.Connection, username: str, ip: str, since: dt.datetime
) -> list[Attempt]:
    """The password checks for ``username`` or from ``ip`` since ``since``, oldest first:
    what :func:`~watchtower.console.accounts.decide_throttle` decides on."""
    la = login_attempts
    q = (
        sa.select(la.c.username, la.c.ip, la.c.at, la.c.ok)
        .where(la.c.at >= since, sa.or_(la.c.username == username, la.c.ip == ip))
        .order_by(la.c.at, la.c.id)
    )
    return [Attempt(str(u), str(i), at, bool(ok)) for u, i, at, ok in conn.execute(q)]


def token_hash(token: str) -> str:
    """The key of a session row: the SHA-256 of its cookie token (the store never holds a
    token a copy of it could replay)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Session:
    """A live session: its user and its CSRF token."""

    __slots__ = ("csrf_token", "token_hash", "user")

    def __init__(self, user: User, csrf_token: str, token_hash: str) -> None:
        self.user = user
        self.csrf_token = csrf_token
        self.token_hash = token_hash


def session_of(conn: sa.Connection, token: str, now: dt.datetime) -> Session | None:
    """The session of cookie ``token`` when it may be used at ``now``: not ended, not
    expired, its account enabled and its password unchanged since the login."""
    s, u = console_sessions, users
    key = token_hash(token)
    q = (
        sa.select(*(u.c[c] for c in _USER_COLUMNS), s.c.csrf_token, s.c.created_at.label("since"))
        .select_from(s.join(u, u.c.id == s.c.user_id))
        .where(
            s.c.token_hash == key,
            s.c.ended_at.is_(None),
            s.c.expires_at > now,
            u.c.disabled.is_(sa.false()),
            u.c.password_changed_at <= s.c.created_at,
        )
    )
    row = conn.execute(q).mappings().first()
    if row is None:
        return None
    return Session(_user(row), str(row["csrf_token"]), key)


def console_audit_rows(conn: sa.Connection, *, actor: str | None = None) -> list[dict[str, Any]]:
    """The console's audit trail (logins, logouts, account changes), oldest first; one
    actor's if given."""
    q = sa.select(console_audit).order_by(console_audit.c.id)
    if actor is not None:
        q = q.where(console_audit.c.actor == actor)
    return [dict(r) for r in conn.execute(q).mappings()]
