"""The console's steps: account administration (``watchtower users ...``), logging in and out,
each recorded in the append-only ``console_audit``. The decisions are
:mod:`watchtower.console.accounts`'; these read what they decide on and write the outcome.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from watchtower.console.accounts import (
    RESERVED_USERNAMES,
    AccountError,
    Throttle,
    ThrottlePolicy,
    User,
    check_jurisdictions,
    check_password,
    check_role,
    decide_throttle,
    normalize_username,
)
from watchtower.console.passwords import hash_password, needs_rehash, verify_password
from watchtower.console.queries import (
    find_user,
    recent_attempts,
    token_hash,
    user_password_hash,
)
from watchtower.store.console import console_audit, console_sessions, login_attempts, users

__all__ = [
    "SESSION_HOURS",
    "LoginResult",
    "audit",
    "run_add_user",
    "run_disable_user",
    "run_login",
    "run_logout",
    "run_set_password",
]

#: A session ends this long after the login, used or not (a console left open overnight
#: asks for the password again in the morning).
SESSION_HOURS = 8


def audit(
    conn: sa.Connection,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one row to the console's audit trail."""
    conn.execute(
        console_audit.insert().values(
            at=at, actor=actor[:128], action=action, target=target, ip=ip, detail=detail
        )
    )


def run_add_user(
    engine: sa.Engine,
    username: str,
    role: str,
    jurisdictions: Iterable[str],
    password: str,
    *,
    actor: str,
    now: dt.datetime,
) -> User:
    """Create an account (see :mod:`watchtower.console.accounts` for what is checked);
    AccountError when the name is taken or anything is refused."""
    name = normalize_username(username)
    if name in RESERVED_USERNAMES:
        raise AccountError(
            f"username {name!r} is a word of the queue's assignee filter; choose another"
        )
    check_role(role)
    districts = check_jurisdictions(role, jurisdictions)
    check_password(password, name)
    hashed = hash_password(password)
    with engine.begin() as conn:
        if find_user(conn, name) is not None:
            raise AccountError(f"user {name!r} exists already (users passwd to change it)")
        conn.execute(
            users.insert().values(
                username=name,
                role=role,
                jurisdictions=list(districts),
                password_hash=hashed,
                disabled=False,
                created_at=now,
                password_changed_at=now,
            )
        )
        detail = f"role {role}" + (f"; jurisdictions {'、'.join(districts)}" if districts else "")
        audit(conn, at=now, actor=actor, action="user_add", target=name, detail=detail)
        user = find_user(conn, name)
    assert user is not None  # just inserted in this transaction
    return user


def _existing(conn: sa.Connection, username: str) -> User:
    name = normalize_username(username)
    user = find_user(conn, name)
    if user is None:
        raise AccountError(f"no user {name!r} (users list shows them)")
    return user


def run_disable_user(engine: sa.Engine, username: str, *, actor: str, now: dt.datetime) -> User:
    """Disable an account: it can no longer log in, and its open sessions end now."""
    with engine.begin() as conn:
        user = _existing(conn, username)
        conn.execute(users.update().where(users.c.id == user.id).values(disabled=True))
        conn.execute(
            console_sessions.update()
            .where(console_sessions.c.user_id == user.id, console_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        audit(conn, at=now, actor=actor, action="user_disable", target=user.username)
        out = find_user(conn, user.username)
    assert out is not None
    return out


def run_set_password(
    engine: sa.Engine, username: str, password: str, *, actor: str, now: dt.datetime
) -> User:
    """Set an account's password; every session of it ends (they began before the change)."""
    hashed: str
    with engine.begin() as conn:
        user = _existing(conn, username)
        check_password(password, user.username)
        hashed = hash_password(password)
        conn.execute(
            users.update()
            .where(users.c.id == user.id)
            .values(password_hash=hashed, password_changed_at=now)
        )
        conn.execute(
            console_sessions.update()
            .where(console_sessions.c.user_id == user.id, console_sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        audit(conn, at=now, actor=actor, action="user_passwd", target=user.username)
        out = find_user(conn, user.username)
    assert out is not None
    return out


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: ``token`` and ``csrf_token`` of the new session when the password
    matched an enabled account; else ``throttle`` says whether it was refused unchecked."""

    user: User | None = None
    token: str | None = None
    csrf_token: str | None = None
    throttle: Throttle = field(default_factory=Throttle)


def run_login(
    engine: sa.Engine,
    username: str,
    password: str,
    *,
    ip: str,
    now: dt.datetime,
    policy: ThrottlePolicy | None = None,
) -> LoginResult:
    """Check a password under the throttle, record the attempt and the outcome in the audit
    trail, and open a session when it matched an enabled account."""
    policy = policy or ThrottlePolicy()
    name = (username or "").strip().lower()[:64]
    with engine.begin() as conn:
        throttle = decide_throttle(
            recent_attempts(conn, name, ip, now - policy.lookback), name, ip, now, policy
        )
        if throttle.refused:
            audit(
                conn,
                at=now,
                actor=name or "-",
                action="login_throttled",
                ip=ip,
                detail=f"too many failures by {throttle.by} until {throttle.until:%H:%M:%S}",
            )
            return LoginResult(throttle=throttle)
        found = user_password_hash(conn, name) if name else None
        matched = verify_password(found[1] if found else None, password[:1024])
        user = found[0] if found else None
        ok = bool(matched and user is not None and not user.disabled)
        conn.execute(login_attempts.insert().values(username=name, ip=ip, at=now, ok=ok))
        if not ok:
            why = "disabled account" if matched and user is not None else "wrong name or password"
            audit(conn, at=now, actor=name or "-", action="login_failed", ip=ip, detail=why)
            return LoginResult()
        assert found is not None and user is not None
        if needs_rehash(found[1]):
            conn.execute(
                users.update()
                .where(users.c.id == user.id)
                .values(password_hash=hash_password(password))
            )
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        conn.execute(
            console_sessions.insert().values(
                token_hash=token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                ip=ip,
                created_at=now,
                expires_at=now + dt.timedelta(hours=SESSION_HOURS),
            )
        )
        audit(conn, at=now, actor=user.username, action="login", ip=ip)
    return LoginResult(user=user, token=token, csrf_token=csrf)


def run_logout(
    engine: sa.Engine, session_hash: str, user: User, *, ip: str, now: dt.datetime
) -> None:
    """End a session (its cookie no longer opens anything), in the audit trail."""
    with engine.begin() as conn:
        conn.execute(
            console_sessions.update()
            .where(console_sessions.c.token_hash == session_hash)
            .values(ended_at=now)
        )
        audit(conn, at=now, actor=user.username, action="logout", ip=ip)
