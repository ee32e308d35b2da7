"""The console's account decisions on plain data: names, districts, passwords, the throttle."""

from __future__ import annotations

import datetime as dt

import pytest

from watchtower.console.accounts import (
    AccountError,
    Attempt,
    ThrottlePolicy,
    check_jurisdictions,
    check_password,
    decide_throttle,
    normalize_username,
)
from watchtower.console.passwords import hash_password, verify_password

T0 = dt.datetime(2024, 7, 1, 9, 0, 0)


def _fail(name: str, ip: str, minutes: float) -> Attempt:
    return Attempt(name, ip, T0 + dt.timedelta(minutes=minutes), False)


def test_five_failures_for_a_name_lock_it_for_fifteen_minutes() -> None:
    rows = [_fail("gd", f"10.0.0.{i}", i) for i in range(5)]  # 09:00 .. 09:04
    assert not decide_throttle(rows[:4], "gd", "10.0.0.9", T0 + dt.timedelta(minutes=5)).refused
    locked = decide_throttle(rows, "gd", "10.0.0.9", T0 + dt.timedelta(minutes=5))
    assert locked.refused and locked.by == "username"
    assert locked.until == T0 + dt.timedelta(minutes=19)  # the last failure + 15 minutes
    assert decide_throttle(
        rows, "gd", "10.0.0.9", T0 + dt.timedelta(minutes=18, seconds=59)
    ).refused
    assert not decide_throttle(rows, "gd", "10.0.0.9", T0 + dt.timedelta(minutes=19)).refused
    assert not decide_throttle(rows, "other", "10.0.0.9", T0 + dt.timedelta(minutes=5)).refused


def test_five_failures_from_one_address_lock_it_whatever_the_names() -> None:
    rows = [_fail(f"user{i}", "10.1.1.1", i) for i in range(5)]
    locked = decide_throttle(rows, "someone", "10.1.1.1", T0 + dt.timedelta(minutes=6))
    assert locked.refused and locked.by == "ip"
    assert not decide_throttle(rows, "someone", "10.1.1.2", T0 + dt.timedelta(minutes=6)).refused


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    rows = [_fail("gd", "10.0.0.1", m) for m in (0, 4, 8, 12, 16)]  # 5 in 16 minutes
    assert not decide_throttle(rows, "gd", "10.0.0.2", T0 + dt.timedelta(minutes=17)).refused
    rows.append(_fail("gd", "10.0.0.1", 17))  # 4..17: five within 15 minutes
    assert decide_throttle(rows, "gd", "10.0.0.2", T0 + dt.timedelta(minutes=18)).refused


def test_a_success_resets_the_name_but_not_the_address() -> None:
    rows = [_fail("gd", "10.0.0.1", i) for i in range(4)]
    rows.append(Attempt("gd", "10.0.0.1", T0 + dt.timedelta(minutes=4), True))
    rows.append(_fail("gd", "10.0.0.1", 5))
    now = T0 + dt.timedelta(minutes=6)
    assert not decide_throttle(rows, "gd", "10.0.0.2", now).refused  # name: one failure since
    locked = decide_throttle(rows, "other", "10.0.0.1", now)
    assert locked.refused and locked.by == "ip"  # the address: five failures


def test_the_policy_is_a_parameter() -> None:
    policy = ThrottlePolicy(failures=2, window=dt.timedelta(minutes=1), lockout=dt.timedelta(1))
    rows = [_fail("gd", "a", 0), _fail("gd", "a", 0.5)]
    assert decide_throttle(rows, "gd", "b", T0 + dt.timedelta(hours=5), policy).refused


def test_districts_in_any_spelling_are_stored_canonical() -> None:
    assert check_jurisdictions("supervisor", ["廣東省", "guangdong", "深圳市"]) == ("广东", "深圳")
    with pytest.raises(AccountError, match="not a district") as err:
        check_jurisdictions("supervisor", ["火星"])
    assert "\n" not in str(err.value) and "docs/console.md" in str(err.value)
    with pytest.raises(AccountError, match="at least one"):
        check_jurisdictions("supervisor", [])
    with pytest.raises(AccountError, match="every district"):
        check_jurisdictions("analyst", ["广东"])
    assert check_jurisdictions("admin", []) == ()


def test_usernames_and_passwords() -> None:
    assert normalize_username("  Zhang.San ") == "zhang.san"
    for bad in ("", "x", "-lead", "a b", "名字", "a" * 65):
        with pytest.raises(AccountError):
            normalize_username(bad)
    with pytest.raises(AccountError, match="at least 12") as err:
        check_password("short-pass1", "gd")
    assert "short-pass1" not in str(err.value)
    with pytest.raises(AccountError, match="not be the username"):
        check_password("supervisor-gd", "Supervisor-GD")
    with pytest.raises(AccountError, match="at most"):
        check_password("x" * 1025, "gd")
    assert check_password("a long enough one", "gd") == "a long enough one"


def test_argon2id_hashes_verify_only_their_password() -> None:
    h = hash_password("a long enough one")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "a long enough one")
    assert not verify_password(h, "a long enough two")
    assert not verify_password(None, "a long enough one")  # no such user: still a mismatch
    assert not verify_password("not a hash", "a long enough one")
