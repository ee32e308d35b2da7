"""Row masks and reasons for every row-level expectation type the suites use.

GX reports how many rows fail each expectation but lists only a truncated sample of them. The
quarantine needs every failing row, so each expectation type has here a vectorized mask that
follows GX's own semantics (nulls skipped by value checks, ``ignore_row_if`` for pairs and
compound keys). The masks run on the same frame GX validated, and the runner checks that each
mask's count equals GX's ``unexpected_count``; a disagreement rejects the batch instead of
letting a bad row through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from dateutil.parser import parse as parse_date

from watchtower.contract import FIELDS, USCC_ALPHABET, uscc_check_char
from watchtower.validate import checks

Mask = Callable[[pd.DataFrame, dict[str, Any]], pd.Series]
Reasons = Callable[[pd.DataFrame, dict[str, Any], pd.Index], list[str]]

_FIELD_NAMES = {f.column: f.name for fields in FIELDS.values() for f in fields}
_FIELD_NAMES |= {"file_date": "the file's date", "known_from": "knownFrom"}


def field_name(column: str) -> str:
    """Contract name of a snake_case column (register_no -> registerNo)."""
    return _FIELD_NAMES.get(column, column)


def show(value: Any, limit: int = 60) -> str:
    """A value as it should appear in a reason: dates ISO, numbers plain, text quoted/cut."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "(empty)"
    if isinstance(value, pd.Timestamp | dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text):,} chars)"
    return repr(text)


def _as_bound(value: Any, series: pd.Series) -> Any:
    if value is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(series.dtype) and isinstance(value, str):
        return pd.Timestamp(parse_date(value))
    return value


# ---- masks (True = unexpected, counted as GX counts) -------------------------------------


def _not_null(frame: pd.DataFrame, kw: dict[str, Any]) -> pd.Series:
    return frame[kw["column"]].isna()


def _in_set(frame: pd.DataFrame, kw: dict[str, Any]) -> pd.Series:
    s = frame[kw["column"]]
    return s.notna() & ~s.isin(list(kw["value_set"])).fillna(False).astype(bool)


def _between(frame: pd.DataFrame, kw: dict[str, Any]) -> pd.Series:
    s = frame[kw["column"]]
    lo, hi = _as_bound(kw.get("min_value"), s), _as_bound(kw.get("max_value"), s)
    ok = pd.Series(True, index=s.index)
    if lo is not None:
        ok &= (s > lo) if kw.get("strict_min") else (s >= lo)
    if hi is not None:
        ok &= (s < hi) if kw.get("strict_max") else (s <= hi)
    return s.notna() & ~ok.fillna(False).astype(bool)


def _pair_present(frame: pd.DataFrame, kw: dict[str, Any]) -> pd.Series:
    a, b = frame[kw["column_A"]], frame[kw["column_B"]]
    how = kw.get("ignore_row_if", "both_values_are_missing")
    if how == "either_value_is_missing":
        return a.notna() & b.notna()
    if how == "both_values_are_missing":
        return a.notna() | b.notna()
    return pd.Series(True, index=frame.index)


def _a_greater_than_b(frame: pd.DataFrame, kw: dict[str, Any]) -> pd.Series:
    a, b = frame[kw["column_A"]], frame[kw["column_B"]]
    ok = (a >= b) if kw.get("or_equal") else (a > b)
    return _pair_present(frame, kw) & ~ok.fillna(False).astype(bool)


def _compound_unique(frame: pd.DataFrame, kw: dict[str, Any]) -> pd.Series:
    cols = list(kw["column_list"])
    keys = frame[cols]
    how = kw.get("ignore_row_if", "all_values_are_missing")
    if how == "all_values_are_missing":
        considered = keys.notna().any(axis=1)
    elif how == "any_value_is_missing":
        considered = keys.notna().all(axis=1)
    else:
        considered = pd.Series(True, index=keys.index)
    out = pd.Series(False, index=frame.index)
    sub = keys[considered]
    out.loc[sub.index] = checks.duplicated_keys(sub).to_numpy()
    return out


def _column_check(fn: Callable[[pd.Series], pd.Series]) -> Mask:
    return lambda frame, kw: fn(frame[kw["column"]])


MASKS: dict[str, Mask] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_between": _between,
    "expect_column_pair_values_a_to_be_greater_than_b": _a_greater_than_b,
    "expect_compound_columns_to_be_unique": _compound_unique,
    "expect_column_values_to_be_valid_uscc": _column_check(checks.bad_uscc),
    "expect_column_values_to_be_valid_register_no": _column_check(checks.bad_register_no),
    "expect_column_values_to_be_valid_fund_no": _column_check(checks.bad_fund_no),
    "expect_column_values_to_be_known_register_no": lambda frame, kw: checks.unknown_values(
        frame[kw["column"]], kw["known"]
    ),
    "expect_column_values_to_be_dates_between": lambda frame, kw: checks.bad_date_range(
        frame[kw["column"]], kw.get("min_value"), kw.get("max_value")
    ),
    "expect_column_values_to_be_safe_text": lambda frame, kw: checks.bad_text(
        frame[kw["column"]], int(kw.get("max_length", 200))
    ),
    "expect_column_pair_values_due_date_after_period": lambda frame, kw: (
        _pair_present(
            frame, {**kw, "ignore_row_if": kw.get("ignore_row_if", "either_value_is_missing")}
        )
        & checks.due_not_after_period(frame[kw["column_A"]], frame[kw["column_B"]])
    ),
}


# ---- reasons (English, naming the field and the value) -----------------------------------


def _each(
    fmt: Callable[[Any], str], column: str
) -> Callable[[pd.DataFrame, dict[str, Any], pd.Index], list[str]]:
    def reasons(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
        return [fmt(v) for v in frame.loc[rows, kw[column]].tolist()]

    return reasons


def _r_not_null(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    return [f"{field_name(kw['column'])} is empty"] * len(rows)


def _r_in_set(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    allowed = list(kw["value_set"])
    shown = ", ".join(allowed[:10]) + (", …" if len(allowed) > 10 else "")
    return [f"{name} {show(v)} is not one of {shown}" for v in frame.loc[rows, kw["column"]]]


def _r_between(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    lo, hi = kw.get("min_value"), kw.get("max_value")
    parts = []
    if lo is not None:
        parts.append(f"{'>' if kw.get('strict_min') else '≥'} {lo}")
    if hi is not None:
        parts.append(f"{'<' if kw.get('strict_max') else '≤'} {hi}")
    rule = " and ".join(parts)
    return [f"{name} {show(v)} is not {rule}" for v in frame.loc[rows, kw["column"]]]


def _r_a_greater_than_b(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    a, b = kw["column_A"], kw["column_B"]
    dates = pd.api.types.is_datetime64_any_dtype(frame[a].dtype)
    if kw.get("or_equal"):
        word = "after" if dates else "greater than"
    else:
        word = "not before" if dates else "not less than"
    return [
        f"{field_name(b)} {show(vb)} is {word} {field_name(a)} {show(va)}"
        for va, vb in zip(frame.loc[rows, a], frame.loc[rows, b], strict=True)
    ]


def _r_compound_unique(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    cols = list(kw["column_list"])
    keys = frame.loc[rows, cols]
    counts = keys.astype(str).value_counts()
    names = ", ".join(field_name(c) for c in cols)
    out = []
    for values in keys.itertuples(index=False, name=None):
        n = counts.get(tuple(str(v) for v in values), 2)
        shown = ", ".join(show(v) for v in values)
        out.append(f"key ({names}) = ({shown}) appears {n} times in this file")
    return out


def _r_uscc(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    out = []
    for v in frame.loc[rows, kw["column"]].astype(str):
        if len(v) != 18:
            why = f"has {len(v)} characters, not 18"
        elif bad := sorted({c for c in v if c not in USCC_ALPHABET}):
            why = f"holds {''.join(bad)!r}, outside 0-9 and A-Y without I, O, S, V, Z"
        else:
            why = f"has check character {v[17]!r}, GB 32100-2015 gives {uscc_check_char(v[:17])!r}"
        out.append(f"{name} {show(v)} is not a valid unified social credit code: {why}")
    return out


def _r_text(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    limit = int(kw.get("max_length", 200))
    return [
        f"{name} {show(v, 40)} {checks.unsafe_text_reason(str(v), limit) or 'is not plain text'}"
        for v in frame.loc[rows, kw["column"]]
    ]


def _r_due(frame: pd.DataFrame, kw: dict[str, Any], rows: pd.Index) -> list[str]:
    period, due = frame.loc[rows, kw["column_A"]], frame.loc[rows, kw["column_B"]]
    ends = checks.period_end(period)
    return [
        f"{field_name(kw['column_B'])} {show(d)} is not after the end of period {show(p)}"
        + (f" ({show(e)})" if not pd.isna(e) else " (unreadable period)")
        for p, d, e in zip(period, due, ends, strict=True)
    ]


REASONS: dict[str, Reasons] = {
    "expect_column_values_to_not_be_null": _r_not_null,
    "expect_column_values_to_be_in_set": _r_in_set,
    "expect_column_values_to_be_between": _r_between,
    "expect_column_pair_values_a_to_be_greater_than_b": _r_a_greater_than_b,
    "expect_compound_columns_to_be_unique": _r_compound_unique,
    "expect_column_values_to_be_valid_uscc": _r_uscc,
    "expect_column_values_to_be_valid_register_no": lambda f, kw, rows: [
        f"{field_name(kw['column'])} {show(v)} does not match P + 7 digits"
        for v in f.loc[rows, kw["column"]]
    ],
    "expect_column_values_to_be_valid_fund_no": lambda f, kw, rows: [
        f"{field_name(kw['column'])} {show(v)} does not match S + 4-7 upper-case letters/digits"
        for v in f.loc[rows, kw["column"]]
    ],
    "expect_column_values_to_be_safe_text": _r_text,
    "expect_column_values_to_be_known_register_no": lambda f, kw, rows: [
        f"{field_name(kw['column'])} {show(v)} is not a known manager"
        for v in f.loc[rows, kw["column"]]
    ],
    "expect_column_values_to_be_dates_between": lambda f, kw, rows: [
        f"{field_name(kw['column'])} {show(v)} is outside the plausible range "
        f"{kw.get('min_value') or '…'} to {kw.get('max_value') or '…'}"
        for v in f.loc[rows, kw["column"]]
    ],
    "expect_column_pair_values_due_date_after_period": _r_due,
}


def supported(expectation_type: str) -> bool:
    """True when rows failing ``expectation_type`` can be found exactly (mask + reason)."""
    return expectation_type in MASKS and expectation_type in REASONS
