"""Vectorized row checks shared by the custom GX expectations and the quarantine masks.

Every function takes pandas Series (any index) and returns a boolean Series on the same index
where ``True`` means *the value breaks the rule*. Missing values never break a value rule (GX
map expectations skip nulls; ``expect_column_values_to_not_be_null`` covers presence).

The same functions back the custom expectations' metric providers
(:mod:`watchtower.validate.expectations`), so GX's counts and the quarantine's row masks come
from one implementation and are reconciled on every run.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from watchtower.contract import USCC_ALPHABET

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

#: Leading characters that spreadsheet software runs as a formula (CSV/formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
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


def _present(series: pd.Series) -> pd.Series:
    return series.notna()


def _text(series: pd.Series) -> pd.Series:
    """Non-missing values as a plain object Series of str (for Python-regex semantics)."""
    return series[series.notna()].astype(str)


def _fullmatch_fails(series: pd.Series, pattern: str) -> pd.Series:
    text = _text(series)
    ok = text.map(re.compile(pattern, re.ASCII).fullmatch).notna()
    out = pd.Series(False, index=series.index)
    out.loc[ok.index] = ~ok.to_numpy(dtype=bool)
    return out


def bad_register_no(series: pd.Series) -> pd.Series:
    """True where a present value is not ``P`` + 7 ASCII digits."""
    return _fullmatch_fails(series, REGISTER_NO_PATTERN)


def bad_fund_no(series: pd.Series) -> pd.Series:
    """True where a present value is not ``S`` + 4-7 upper-case ASCII letters/digits."""
    return _fullmatch_fails(series, FUND_NO_PATTERN)


def bad_uscc(series: pd.Series) -> pd.Series:
    """True where a present value is not a valid unified social credit code (GB 32100-2015).

    Vectorized: codes of 18 ASCII characters are mapped to alphabet values in one numpy array
    (n x 18); the check character must equal ``(31 - sum(v_i * 3^(i-1) mod 31) mod 31) mod 31``.
    """
    text = _text(series)
    out = pd.Series(False, index=series.index)
    if text.empty:
        return out
    lengths = text.str.len().to_numpy()
    ascii_ok = text.map(str.isascii).to_numpy(dtype=bool)
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
    text = _text(series)
    out = pd.Series(False, index=series.index)
    if text.empty:
        return out
    bad = text.str.len() > max_length
    bad |= text.str.startswith(FORMULA_PREFIXES)
    bad |= text.str.contains(_MARKUP_RE, flags=re.IGNORECASE, regex=True)
    bad |= text.str.contains(_ODD_CHARS, regex=True)
    out.loc[text.index] = bad.to_numpy(dtype=bool)
    return out


def bad_date_range(series: pd.Series, min_value: str | None, max_value: str | None) -> pd.Series:
    """True where a present date lies outside [min_value, max_value] (ISO dates, inclusive)."""
    ok = pd.Series(True, index=series.index)
    if min_value is not None:
        ok &= series >= pd.Timestamp(min_value)
    if max_value is not None:
        ok &= series <= pd.Timestamp(max_value)
    return series.notna() & ~ok.fillna(False).astype(bool)


def period_end(period: pd.Series) -> pd.Series:
    """Last day of canonical periods (``2024-09``, ``2024Q3``, ``2024``) as datetime64[s];
    NaT for missing or unreadable periods."""
    text = period.astype("string")
    parts = text.str.extract(r"^(\d{4})(?:-(\d{2})|Q([1-4]))?$")
    year = pd.to_numeric(parts[0], errors="coerce")
    month = pd.to_numeric(parts[1], errors="coerce")
    quarter = pd.to_numeric(parts[2], errors="coerce")
    last_month = month.fillna(quarter * 3).fillna(12)
    ok = year.notna() & last_month.between(1, 12)
    # First day of the following month, minus one day.
    nxt_year = (year + (last_month == 12)).where(ok)
    nxt_month = (last_month % 12 + 1).where(ok)
    first = pd.to_datetime(
        pd.DataFrame({"year": nxt_year, "month": nxt_month, "day": 1}).dropna().astype(int),
        errors="coerce",
    )
    out = pd.Series(pd.NaT, index=period.index, dtype="datetime64[s]")
    out.loc[first.index] = (first - pd.Timedelta(days=1)).astype("datetime64[s]")
    return out


def due_not_after_period(period: pd.Series, due_date: pd.Series) -> pd.Series:
    """True where both are present and the due date is not after the period's last day (or
    the period cannot be read)."""
    both = period.notna() & due_date.notna()
    end = period_end(period)
    bad = both & ~(due_date > end).fillna(False).astype(bool)
    return bad.astype(bool)
