"""A secret from the environment or from a file only its owner can read.

Two secrets follow this pattern: the model registry's signing key and the console's cookie
secret. Given in the environment, it is used as it is (at least ``min_chars``). Otherwise it
lives in a file created on first use with a random value, mode 0600 in a 0700 folder, with
O_EXCL so that two processes starting at once cannot end up with two secrets; a file open to
group or others is refused, since whoever can read it can forge what the secret signs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SecretSpec", "read_secret"]


@dataclass(frozen=True)
class SecretSpec:
    """What a secret is called and how a new one is made."""

    what: str  #: "the model key", "the console secret": how errors name it
    variable: str  #: the environment variable that gives it instead of the file
    error: type[Exception]  #: raised, with a message that says how to mend it
    new_value: Callable[[], str]  #: a fresh random secret for a new file
    min_chars: int = 32
    example: str = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    #: what else the file error advises (besides the variable)
    file_hint: str = ""


def read_secret(spec: SecretSpec, given: str | None, path: Path) -> bytes:
    """The secret: ``given`` (the variable's value) when set, else the file at ``path``."""
    if given is not None:
        text = given.strip()
        if len(text) < spec.min_chars:
            raise spec.error(
                f"{spec.variable} must be at least {spec.min_chars} characters "
                f"(e.g. {spec.example})"
            )
        return text.encode("utf-8")
    try:
        if not path.exists():
            _create(path, spec.new_value)
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise spec.error(
                f"{spec.what} file {path} is open to group or others (mode "
                f"{stat.S_IMODE(mode):o}): chmod 600 it, or set {spec.variable}"
            )
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise spec.error(
            f"cannot read or create {spec.what} file {path} ({type(exc).__name__}: {reason}): "
            f"set {spec.variable}{spec.file_hint}"
        ) from None
    if len(text) < spec.min_chars:
        raise spec.error(f"{spec.what} file {path} holds fewer than {spec.min_chars} characters")
    return text.encode("utf-8")


def _create(path: Path, new_value: Callable[[], str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: read theirs
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new_value() + "\n")
