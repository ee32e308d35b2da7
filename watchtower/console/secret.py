"""The secret that signs the console's cookies: ``WATCHTOWER_CONSOLE_SECRET`` (at least 32
characters), else a file beside the model key (``console.secret`` in its folder), created
with a random secret, mode 0600, on first use; refused when group or others can read it
(whoever holds it can forge a signed cookie, though a session still needs its row in the
store). Read like the model key, by :func:`watchtower.secretfile.read_secret`."""

from __future__ import annotations

import secrets
from pathlib import Path

from watchtower.config import ConfigError, Settings
from watchtower.secretfile import SecretSpec, read_secret

__all__ = ["MIN_SECRET_CHARS", "ConsoleSecretError", "console_secret", "console_secret_file"]

MIN_SECRET_CHARS = 32


class ConsoleSecretError(ConfigError):
    """The cookie secret cannot be had (too short, unreadable, too open)."""


def console_secret_file(settings: Settings) -> Path:
    """Where the secret lives when the environment does not give it."""
    return settings.model_key_file.parent / "console.secret"


def console_secret(settings: Settings) -> bytes:
    """The console's signing secret (see the module)."""
    return read_secret(_SPEC, settings.console_secret, console_secret_file(settings))


_SPEC = SecretSpec(
    what="the console secret",
    variable="WATCHTOWER_CONSOLE_SECRET",
    error=ConsoleSecretError,
    new_value=lambda: secrets.token_urlsafe(48),
    min_chars=MIN_SECRET_CHARS,
)
