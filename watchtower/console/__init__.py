"""The supervisor console: accounts, their scope and the web application (``watchtower serve``).

Decisions on plain data in :mod:`watchtower.console.accounts` (names, roles, districts, the
password policy, the login throttle); the store's reads in :mod:`watchtower.console.queries`
and its steps (accounts, logging in and out, each in the append-only ``console_audit``) in
:mod:`watchtower.console.steps`; the ASGI application, built by :func:`create_app`, in
:mod:`watchtower.console.app` (imported on use: the CLI's account commands need no web
framework). See docs/console.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchtower.console.accounts import (
    AccountError,
    Attempt,
    Throttle,
    ThrottlePolicy,
    User,
    decide_throttle,
)
from watchtower.console.queries import console_audit_rows, find_user, list_users
from watchtower.console.steps import (
    LoginResult,
    run_add_user,
    run_disable_user,
    run_login,
    run_logout,
    run_set_password,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from watchtower.clock import Clock
    from watchtower.config import Settings

__all__ = [
    "AccountError",
    "Attempt",
    "LoginResult",
    "Throttle",
    "ThrottlePolicy",
    "User",
    "console_audit_rows",
    "create_app",
    "decide_throttle",
    "find_user",
    "list_users",
    "run_add_user",
    "run_disable_user",
    "run_login",
    "run_logout",
    "run_set_password",
]


def create_app(
    settings: Settings, *, clock: Clock | None = None, throttle: ThrottlePolicy | None = None
) -> FastAPI:
    """The console's ASGI application on ``settings``' store (see
    :func:`watchtower.console.app.create_app`)."""
    from watchtower.console.app import create_app as _create_app

    return _create_app(settings, clock=clock, throttle=throttle)
