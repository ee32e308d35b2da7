"""Vectorized row checks shared by the custom GX expectations and the quarantine masks.

Every function takes pandas Series (any index) and returns a boolean Series on the same index
where ``True`` means *the value breaks the rule*. Missing values never break a value rule (GX
map expectations skip nulls; ``expect_column_values_to_not_be_null`` covers presence).

Each is the rule of one check in :mod:`watchtower.validate.rows`, from which both the custom
GX expectation (:mod:`watchtower.validate.expectations`) and the quarantine's row mask come, so
GX's counts and the masks are one computation, reconciled on every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from watchtower.contract import USCC_ALPHABET
from watchtower.text import FORMULA_PREFIXES

#: AMAC manager registration number: ``P`` + 7 ASCII digits (P1000182).
REGISTER_NO_PATTERN = r"P[0-9]{7}"
#: AMAC fund number: ``S`` + 4-7 upper-case ASCII letters/digits (SD3113, SCS723).
FUND_NO_PATTERN = r"S[0-9A-Z]{4,7}"

# GB 32100-2015 weights 3^(i-1) mod 31, i = 1..17.
_USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
# Byte -> alphabet value (-1: not in the alphabet).
_USCC_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_VALUE[ord(_c)] = _i

_MARKUP_RE = r"<\s*[A-Za-z/!?]|&#|javascript:"
# Control characters, zero-width/bidi controls, private use, emoji and pictographs: none of them
# belongs in a registered name or address.
_ODD_CHARS = (
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"
    "\u2600-\u27bf"
    "\ue000-\uf8ff"
    "\U0001f000-\U0001faff"
    "\ufe0f"
    "]"
)
_ODD_RE = re.compile(_ODD_CHARS)
# The same class in RE2 syntax (Arrow): escapes instead of literal control characters.
_ODD_RE2 = (
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{200b}-\x{200f}\x{202a}-\x{202e}"
    r"\x{2060}-\x{2064}\x{feff}\x{2600}-\x{27bf}\x{e000}-\x{f8ff}\x{1f000}-\x{1faff}"
    r"\x{fe0f}]"
)


def _text(series: pd.Series) -> pd.Series:
    """Non-missing values as a plain object Series of str (for Python-regex semantics)."""
    return series[series.notna()].astype(str)


def _arrow(series: pd.Series) -> tuple[pd.Index, pa.Array]:
    """(index, Arrow string array) of the present values; cheap for Arrow-backed strings."""
    present = series[series.notna()]
    if not isinstance(present.dtype, pd.StringDtype):
        present = present.astype(str)
    return present.index, pa.array(present, type=pa.large_string())


def _flag(series: pd.Series, index: pd.Index, bad: pa.Array | np.ndarray) -> pd.Series:
    out = pd.Series(False, index=series.index)
    if len(index):
        values = bad.to_numpy(zero_copy_only=False) if isinstance(bad, pa.Array) else bad
        out.loc[index] = np.asarray(values, dtype=bool)
    return out


def _fullmatch_fails(series: pd.Series, pattern: str) -> pd.Series:
    # RE2 (Arrow): ``$`` is the end of the text and [0-9] is ASCII, so "P1234567\n" and
    # full-width digits fail, as they should.
    index, values = _arrow(series)
    ok = pc.match_substring_regex(values, f"^(?:{pattern})$")
    return _flag(series, index, pc.invert(ok))


def bad_register_no(series: pd.Series) -> pd.Series:
    """True where a present value is not ``P`` + 7 ASCII digits."""
    return _fullmatch_fails(series, REGISTER_NO_PATTERN)


def bad_fund_no(series: pd.Series) -> pd.Series:
    """True where a present value is not ``S`` + 4-7 upper-case ASCII letters/digits."""
    return _fullmatch_fails(series, FUND_NO_PATTERN)


def unknown_values(series: pd.Series, known: frozenset[str]) -> pd.Series:
    """True where a present value is not in ``known`` (Arrow hash lookup, no Python loop)."""
    index, values = _arrow(series)
    if not len(index):
        return pd.Series(False, index=series.index)
    found = pc.is_in(values, value_set=_arrow_set(known))
    return _flag(series, index, pc.invert(found))


#: Register numbers of the managers known to the current validation (see known_managers()).
_KNOWN_MANAGERS: ContextVar[frozenset[str] | None] = ContextVar("known_managers", default=None)


@contextmanager
def known_managers(values: frozenset[str]) -> Iterator[None]:
    """Make ``values`` the reference set of ``expect_column_values_to_be_known_register_no``
    while validating (GX's metric and the quarantine mask both read it). Reference data is
    handed over in-process rather than as a GX suite parameter: GX pushes parameter values
    through pydantic per element, which costs seconds for the ~25,000 register numbers of a
    real store."""
    token = _KNOWN_MANAGERS.set(values)
    try:
        yield
    finally:
        _KNOWN_MANAGERS.reset(token)


def current_known_managers() -> frozenset[str]:
    """The reference set of :func:`known_managers`; RuntimeError outside it."""
    known = _KNOWN_MANAGERS.get()
    if known is None:
        raise RuntimeError("no known managers set: validate inside known_managers(...)")
    return known


@lru_cache(maxsize=4)
def _arrow_set(known: frozenset[str]) -> pa.Array:
    return pa.array(sorted(known), type=pa.large_string())


def duplicated_keys(frame: pd.DataFrame) -> pd.Series:
    """True on every row whose full key (all columns of ``frame``) occurs more than once.

    Same result as ``frame.duplicated(keep=False)`` (missing values compare equal), faster:
    each column is factorized once and the codes are combined into one int64 key.
    """
    key = np.zeros(len(frame), dtype=np.int64)
    radix = 1
    for column in frame.columns:
        codes, uniques = pd.factorize(frame[column], use_na_sentinel=False)
        size = len(uniques) + 1
        if radix * size >= 2**62:  # would overflow: fall back to pandas
            return frame.duplicated(keep=False)
        key += codes.astype(np.int64) * radix
        radix *= size
    return pd.Series(pd.Series(key).duplicated(keep=False).to_numpy(), index=frame.index)


def bad_uscc(series: pd.Series) -> pd.Series:
    """True where a present value is not a valid unified social credit code (GB 32100-2015).

    Vectorized: codes of 18 ASCII characters are mapped to alphabet values in one numpy array
    (n x 18); the check character must equal ``(31 - sum(v_i * 3^(i-1) mod 31) mod 31) mod 31``.
    """
    text = _text(series)
    out = pd.Series(False, index=series.index)
    if text.empty:
        return out
    _, arrow = _arrow(text)
    lengths = pc.utf8_length(arrow).to_numpy(zero_copy_only=False)
    ascii_ok = pc.string_is_ascii(arrow).to_numpy(zero_copy_only=False)
    candidate = (lengths == 18) & ascii_ok
    valid = np.zeros(len(text), dtype=bool)
    if candidate.any():
        joined = "".join(text.to_numpy()[candidate]).encode("ascii")
        codes = np.frombuffer(joined, dtype=np.uint8).reshape(-1, 18)
        values = _USCC_VALUE[codes]
        in_alphabet = (values >= 0).all(axis=1)
        expected = (31 - (values[:, :17] @ _USCC_WEIGHTS) % 31) % 31
        valid[candidate] = in_alphabet & (expected == values[:, 17])
    out.loc[text.index] = ~valid
    return out


def unsafe_text_reason(value: str, max_length: int) -> str | None:
    """Why ``value`` is not acceptable as a name/address, or None when it is."""
    if len(value) > max_length:
        return f"is {len(value):,} characters long (limit {max_length})"
    if value.startswith(FORMULA_PREFIXES):
        return "starts with a spreadsheet formula character (=, +, -, @)"
    if re.search(_MARKUP_RE, value, re.IGNORECASE):
        return "holds HTML/script markup"
    if _ODD_RE.search(value):
        return "holds control characters, emoji or invisible characters"
    return None


def bad_text(series: pd.Series, max_length: int) -> pd.Series:
    """True where a present value is too long, starts with a formula character, holds markup,
    control characters, emoji or invisible characters (see :func:`unsafe_text_reason`)."""
    index, values = _arrow(series)
    if not len(index):
        return pd.Series(False, index=series.index)
    bad = pc.greater(pc.utf8_length(values), max_length)
    for prefix in FORMULA_PREFIXES:
        bad = pc.or_(bad, pc.starts_with(values, prefix))
    bad = pc.or_(bad, pc.match_substring_regex(values, _MARKUP_RE, ignore_case=True))
    bad = pc.or_(bad, pc.match_substring_regex(values, _ODD_RE2))
    return _flag(series, index, bad)


def bad_date_range(series: pd.Series, min_value: str | None, max_value: str | None) -> pd.Series:
    """True where a present date lies outside [min_value, max_value] (ISO dates, inclusive)."""
    ok = pd.Series(True, index=series.index)
    if min_value is not None:
        ok &= series >= pd.Timestamp(min_value)
    if max_value is not None:
        ok &= series <= pd.Timestamp(max_value)
    return series.notna() & ~ok.fillna(False).astype(bool)


def _period_end_one(period: str) -> pd.Timestamp | None:
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})|Q([1-4]))?", period)
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (int(m.group(3)) * 3 if m.group(3) else 12)
    if not 1 <= month <= 12:
        return None
    return pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)


def period_end(period: pd.Series) -> pd.Series:
    """Last day of canonical periods (``2024-09``, ``2024Q3``, ``2024``) as datetime64[s];
    NaT for missing or unreadable periods. Computed once per distinct period."""
    codes, uniques = pd.factorize(period, use_na_sentinel=True)
    ends = [_period_end_one(str(u)) for u in uniques]
    table = pd.array(
        [e if e is not None else pd.NaT for e in ends] + [pd.NaT], dtype="datetime64[s]"
    )
    return pd.Series(np.asarray(table)[codes], index=period.index, dtype="datetime64[s]")


def due_not_after_period(period: pd.Series, due_date: pd.Series) -> pd.Series:
    """True where both are present and the due date is not after the period's last day (or
    the period cannot be read)."""
    both = period.notna() & due_date.notna()
    end = period_end(period)
    bad = both & ~(due_date > end).fillna(False).astype(bool)
    return bad.astype(bool)
