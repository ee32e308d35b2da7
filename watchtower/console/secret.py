"""The secret that signs the console's cookies: ``WATCHTOWER_CONSOLE_SECRET`` (at least 32
characters), else a file beside the model key (``console.secret`` in its folder), created
with a random secret, mode 0600, on first use; refused when group or others can read it
(whoever holds it can forge a signed cookie, though a session still needs its row in the
store). The same pattern as :func:`watchtower.detect.registry.model_key`."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from watchtower.config import ConfigError, Settings

__all__ = ["MIN_SECRET_CHARS", "ConsoleSecretError", "console_secret", "console_secret_file"]

MIN_SECRET_CHARS = 32


class ConsoleSecretError(ConfigError):
    """The cookie secret cannot be had (too short, unreadable, too open)."""


def console_secret_file(settings: Settings) -> Path:
    """Where the secret lives when the environment does not give it."""
    return settings.model_key_file.parent / "console.secret"


def console_secret(settings: Settings) -> bytes:
    """The console's signing secret (see the module)."""
    if settings.console_secret is not None:
        text = settings.console_secret.strip()
        if len(text) < MIN_SECRET_CHARS:
            raise ConsoleSecretError(
                f"WATCHTOWER_CONSOLE_SECRET must be at least {MIN_SECRET_CHARS} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return text.encode("utf-8")
    path = console_secret_file(settings)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:  # O_EXCL: two servers starting at once must not end up with two secrets
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(secrets.token_urlsafe(48) + "\n")
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConsoleSecretError(
                f"the console secret file {path} is open to group or others (mode "
                f"{stat.S_IMODE(mode):o}): chmod 600 it, or set WATCHTOWER_CONSOLE_SECRET"
            )
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsoleSecretError(
            f"cannot read or create the console secret file {path} ({type(exc).__name__}): "
            "set WATCHTOWER_CONSOLE_SECRET"
        ) from None
    if len(text) < MIN_SECRET_CHARS:
        raise ConsoleSecretError(
            f"the console secret file {path} holds fewer than {MIN_SECRET_CHARS} characters"
        )
    return text.encode("utf-8")
