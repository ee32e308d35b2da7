"""Console tables: accounts, their sessions, login attempts (throttling) and the console's
append-only audit trail (logins, logouts, account administration). What a person does to an
alert is recorded in the alerts' own trail (``alert_events``), not here.

- ``users``: one account a person. ``jurisdictions`` is a JSON list of canonical district
  names (:func:`watchtower.jurisdiction.normalize_jurisdiction`); a supervisor sees those,
  analysts and admins see every district. ``password_hash`` is an argon2id hash.
- ``console_sessions``: one row a login. The cookie carries a random token; the row is keyed by
  its SHA-256 (a copy of the table leaks no usable token) and holds the session's CSRF token.
  Logging out, disabling the account or changing its password ends it.
- ``login_attempts``: every password check (who, from where, when, whether it matched): what
  the throttle decides on (:func:`watchtower.console.accounts.decide_throttle`).
- ``console_audit``: append-only (migration 0011 adds triggers refusing UPDATE and DELETE).
"""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.schema import metadata

ROLES: tuple[str, ...] = ("supervisor", "analyst", "admin")

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # ROLES
    sa.Column("jurisdictions", sa.JSON, nullable=False),  # canonical district names
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("password_changed_at", sa.DateTime, nullable=False),
    sa.CheckConstraint("role IN ('supervisor', 'analyst', 'admin')", name="role_known"),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 hex of the cookie token
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("ip", sa.String(64)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("ended_at", sa.DateTime),  # logout; NULL while the session may be used
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),  # as typed, normalized
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Index("ix_login_attempts_username_at", "username", "at"),
    sa.Index("ix_login_attempts_ip_at", "ip", "at"),
)

console_audit = sa.Table(
    "console_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),  # who (a username, or cli:<os user>)
    # login | login_failed | login_throttled | logout | user_add | user_disable | user_passwd
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128)),  # the account acted on, when not the actor
    sa.Column("ip", sa.String(64)),
    sa.Column("detail", sa.Text),
    sa.Index("ix_console_audit_at", "at"),
)
