"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).

A check against an unknown username still runs one verification (of a hash of a random
password), so the time a login takes does not tell whether the name exists.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "needs_rehash", "verify_password"]

_HASHER = PasswordHasher()  # argon2id


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (its own random salt; parameters in the hash)."""
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _decoy() -> str:
    return _HASHER.hash(secrets.token_urlsafe(24))


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the ``stored`` hash; None (no such user) and a
    malformed hash are a mismatch, after the same work as a real check."""
    try:
        return _HASHER.verify(stored or _decoy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's (rehash at login)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
