"""The console's account decisions, on plain data: names, roles, scope, the password policy and
the login throttle. Nothing here reads the store or the clock; :mod:`watchtower.console.steps`
does, and passes what it read in.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watchtower.config import ConfigError
from watchtower.jurisdiction import normalize_jurisdiction
from watchtower.store.console import ROLES

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "RESERVED_USERNAMES",
    "ROLES",
    "AccountError",
    "Attempt",
    "Throttle",
    "ThrottlePolicy",
    "User",
    "check_jurisdictions",
    "check_password",
    "check_role",
    "decide_throttle",
    "normalize_username",
]

MIN_PASSWORD = 12
#: argon2 hashes any length, but a megabyte-long "password" is a way to burn the server's CPU.
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_HOW_TO_LIST = (
    "the 31 provinces (e.g. 广东, Guangdong, 广东省) or 深圳, 大连, 宁波, 厦门, 青岛; "
    "see `python -c 'from watchtower.jurisdiction import JURISDICTIONS as J; "
    "print(*[j.zh for j in J])'` or docs/console.md"
)


class AccountError(ConfigError):
    """An account cannot be made or changed as asked; the message says why (one line)."""


@dataclass(frozen=True)
class User:
    """One console account as the store holds it (without its password hash)."""

    id: int
    username: str
    role: str
    jurisdictions: tuple[str, ...]
    disabled: bool
    created_at: dt.datetime
    password_changed_at: dt.datetime

    @property
    def districts(self) -> frozenset[str] | None:
        """The districts this user sees: a supervisor's own, None (every one) for analysts
        and admins. The queries take it as their ``districts`` scope."""
        return frozenset(self.jurisdictions) if self.role == "supervisor" else None

    def sees(self, district: str | None) -> bool:
        """True when an alert or manager of ``district`` is in this user's scope."""
        scope = self.districts
        return scope is None or (district is not None and district in scope)


#: Names no new account may take: the queue's assignee filter reads them as "the user
#: asking" and "nobody" (``/alerts?assignee=me``, ``assignee=none``).
RESERVED_USERNAMES = frozenset({"me", "none"})


def normalize_username(name: str) -> str:
    """The stored form of a username (lower case, trimmed); AccountError when it is not 2-64
    of ``a-z 0-9 . _ @ -`` starting with a letter or digit."""
    text = (name or "").strip().lower()
    if not _USERNAME.match(text):
        raise AccountError(
            f"username {name!r}: 2 to 64 characters of a-z, 0-9, '.', '_', '@', '-', "
            "starting with a letter or digit"
        )
    return text


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


def check_jurisdictions(role: str, given: Iterable[str]) -> tuple[str, ...]:
    """The canonical districts of ``given`` (any spelling), in the order given, without
    repeats. A supervisor needs at least one; analysts and admins see every district, so
    giving them any is refused (it would suggest a limit that does not apply)."""
    out: list[str] = []
    for text in given:
        district = normalize_jurisdiction(text)
        if district is None:
            raise AccountError(f"{text!r} is not a district (辖区): {_HOW_TO_LIST}")
        if district not in out:
            out.append(district)
    if role == "supervisor" and not out:
        raise AccountError("a supervisor needs at least one --jurisdiction (their districts)")
    if role != "supervisor" and out:
        raise AccountError(f"a {role} sees every district: give --jurisdiction to supervisors")
    return tuple(out)


def check_password(password: str, username: str) -> str:
    """``password`` when it is acceptable: at least MIN_PASSWORD characters, at most
    MAX_PASSWORD, not the username. The message never repeats the password."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")
    if password.strip().lower() == username.strip().lower():
        raise AccountError("the password must not be the username")
    return password


# --- the login throttle ----------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One password check: for which username, from which address, when, and whether the
    password matched."""

    username: str
    ip: str
    at: dt.datetime
    ok: bool


@dataclass(frozen=True)
class ThrottlePolicy:
    """``failures`` failed checks for one username, or from one address, within ``window``
    refuse every further attempt for ``lockout`` after the last of them."""

    failures: int = 5
    window: dt.timedelta = dt.timedelta(minutes=15)
    lockout: dt.timedelta = dt.timedelta(minutes=15)

    @property
    def lookback(self) -> dt.timedelta:
        """How far back the attempts that can decide now reach."""
        return self.window + self.lockout


@dataclass(frozen=True)
class Throttle:
    """The decision: ``until`` None lets the attempt through; else it is refused until then,
    because of the ``by`` ("username" or "ip") failures."""

    until: dt.datetime | None = None
    by: str | None = None

    @property
    def refused(self) -> bool:
        return self.until is not None


def _locked_until(failures: Sequence[dt.datetime], policy: ThrottlePolicy) -> dt.datetime | None:
    """The end of the latest lockout that ``failures`` (oldest first) cause: the last failure
    of any run of ``policy.failures`` within ``policy.window``, plus ``policy.lockout``."""
    n = policy.failures
    until = None
    for i in range(n - 1, len(failures)):
        if failures[i] - failures[i - n + 1] <= policy.window:
            until = failures[i] + policy.lockout
    return until


def decide_throttle(
    attempts: Iterable[Attempt],
    username: str,
    ip: str,
    now: dt.datetime,
    policy: ThrottlePolicy | None = None,
) -> Throttle:
    """Whether a login attempt for ``username`` from ``ip`` at ``now`` may check a password.

    Counted: failures for the username since its last success (a person who finally typed it
    right starts afresh), and failures from the address whatever succeeded in between (an
    attacker holding one valid account cannot reset the count of the address it guesses
    others' passwords from). Refused attempts are not attempts: they check nothing."""
    policy = policy or ThrottlePolicy()
    since = now - policy.lookback
    rows = sorted((a for a in attempts if since <= a.at <= now), key=lambda a: a.at)
    by_name: list[dt.datetime] = []
    by_ip: list[dt.datetime] = []
    for a in rows:
        if a.username == username:
            if a.ok:
                by_name.clear()
            else:
                by_name.append(a.at)
        if a.ip == ip and not a.ok:
            by_ip.append(a.at)
    for by, failures in (("username", by_name), ("ip", by_ip)):
        until = _locked_until(failures, policy)
        if until is not None and now < until:
            return Throttle(until, by)
    return Throttle()
