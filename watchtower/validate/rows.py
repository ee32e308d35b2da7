"""The one definition of every row-level check the suites use: its row mask and its reasons,
and for Watchtower's own expectation types also what their GX expectation is made of.

GX reports how many rows fail each expectation but lists only a truncated sample of them. The
quarantine needs every failing row, so each expectation type is a :class:`Check` here:

- :class:`GxCheck`: a GX built-in (not null, in set, between, pair a > b, compound unique).
  GX owns the expectation; the check's vectorized mask follows GX's semantics (nulls skipped by
  value checks, ``ignore_row_if`` for pairs and compound keys).
- :class:`ColumnCheck` / :class:`PairCheck`: Watchtower's own types. The row rule (a function
  of :mod:`watchtower.validate.checks`) and its parameters with their defaults are declared
  once; :mod:`watchtower.validate.expectations` builds the GX metric provider and expectation
  class from the same object, so GX's count and the quarantine mask are one computation.

The masks run on the same frame GX validated, and the runner checks that each mask's count
equals GX's ``unexpected_count``; a disagreement rejects the batch instead of letting a bad row
through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from dateutil.parser import parse as parse_date

from watchtower.contract import FIELDS, USCC_ALPHABET, uscc_check_char
from watchtower.validate import checks

__all__ = [
    "CHECKS",
    "Check",
    "ColumnCheck",
    "GxCheck",
    "PairCheck",
    "check_for",
    "field_name",
    "show",
    "supported",
]

#: (frame, expectation kwargs) -> True where the row is unexpected, counted as GX counts.
Mask = Callable[[pd.DataFrame, Mapping[str, Any]], pd.Series]
#: (frame, expectation kwargs, failing rows) -> one English reason per failing row.
Reasons = Callable[[pd.DataFrame, Mapping[str, Any], pd.Index], list[str]]
#: GX's ``ignore_row_if`` choices for column pairs.
IgnoreRowIf = Literal["both_values_are_missing", "either_value_is_missing", "neither"]

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


def _not_null(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    return frame[kw["column"]].isna()


def _in_set(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    s = frame[kw["column"]]
    return s.notna() & ~s.isin(list(kw["value_set"])).fillna(False).astype(bool)


def _between(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    s = frame[kw["column"]]
    lo, hi = _as_bound(kw.get("min_value"), s), _as_bound(kw.get("max_value"), s)
    ok = pd.Series(True, index=s.index)
    if lo is not None:
        ok &= (s > lo) if kw.get("strict_min") else (s >= lo)
    if hi is not None:
        ok &= (s < hi) if kw.get("strict_max") else (s <= hi)
    return s.notna() & ~ok.fillna(False).astype(bool)


def _pair_present(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    a, b = frame[kw["column_A"]], frame[kw["column_B"]]
    how = kw.get("ignore_row_if", "both_values_are_missing")
    if how == "either_value_is_missing":
        return a.notna() & b.notna()
    if how == "both_values_are_missing":
        return a.notna() | b.notna()
    return pd.Series(True, index=frame.index)


def _a_greater_than_b(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
    a, b = frame[kw["column_A"]], frame[kw["column_B"]]
    ok = (a >= b) if kw.get("or_equal") else (a > b)
    return _pair_present(frame, kw) & ~ok.fillna(False).astype(bool)


def _compound_unique(frame: pd.DataFrame, kw: Mapping[str, Any]) -> pd.Series:
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


# ---- reasons (English, naming the field and the value) -----------------------------------


def _r_not_null(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    return [f"{field_name(kw['column'])} is empty"] * len(rows)


def _r_in_set(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    allowed = list(kw["value_set"])
    shown = ", ".join(allowed[:10]) + (", …" if len(allowed) > 10 else "")
    return [f"{name} {show(v)} is not one of {shown}" for v in frame.loc[rows, kw["column"]]]


def _r_between(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    lo, hi = kw.get("min_value"), kw.get("max_value")
    parts = []
    if lo is not None:
        parts.append(f"{'>' if kw.get('strict_min') else '≥'} {lo}")
    if hi is not None:
        parts.append(f"{'<' if kw.get('strict_max') else '≤'} {hi}")
    rule = " and ".join(parts)
    return [f"{name} {show(v)} is not {rule}" for v in frame.loc[rows, kw["column"]]]


def _r_a_greater_than_b(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
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


def _r_compound_unique(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
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


def _r_uscc(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
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


def _r_text(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    limit = int(kw["max_length"])
    return [
        f"{name} {show(v, 40)} {checks.unsafe_text_reason(str(v), limit) or 'is not plain text'}"
        for v in frame.loc[rows, kw["column"]]
    ]


def _r_due(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    period, due = frame.loc[rows, kw["column_A"]], frame.loc[rows, kw["column_B"]]
    ends = checks.period_end(period)
    return [
        f"{field_name(kw['column_B'])} {show(d)} is not after the end of period {show(p)}"
        + (f" ({show(e)})" if not pd.isna(e) else " (unreadable period)")
        for p, d, e in zip(period, due, ends, strict=True)
    ]


def _r_register_no(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    return [f"{name} {show(v)} does not match P + 7 digits" for v in frame.loc[rows, kw["column"]]]


def _r_fund_no(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    return [
        f"{name} {show(v)} does not match S + 4-7 upper-case letters/digits"
        for v in frame.loc[rows, kw["column"]]
    ]


def _r_known(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    return [f"{name} {show(v)} is not a known manager" for v in frame.loc[rows, kw["column"]]]


def _r_dates(frame: pd.DataFrame, kw: Mapping[str, Any], rows: pd.Index) -> list[str]:
    name = field_name(kw["column"])
    span = f"{kw.get('min_value') or '…'} to {kw.get('max_value') or '…'}"
    return [
        f"{name} {show(v)} is outside the plausible range {span}"
        for v in frame.loc[rows, kw["column"]]
    ]


# ---- the checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One row-level expectation type: which rows fail it and why (see module docstring)."""

    type: str
    reasons_of: Reasons

    def options(self, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        """The expectation's kwargs with the check's own defaults filled in."""
        return kwargs

    def unexpected(self, frame: pd.DataFrame, kwargs: Mapping[str, Any]) -> pd.Series:
        """True on every row of ``frame`` that fails the expectation, on ``frame``'s index."""
        raise NotImplementedError

    def reasons(self, frame: pd.DataFrame, kwargs: Mapping[str, Any], rows: pd.Index) -> list[str]:
        """One reason per row of ``rows`` (rows that failed), naming the field and the value."""
        return self.reasons_of(frame, self.options(kwargs), rows)


@dataclass(frozen=True)
class GxCheck(Check):
    """A GX built-in expectation type; ``mask`` mirrors GX's semantics for it."""

    mask: Mask

    def unexpected(self, frame: pd.DataFrame, kwargs: Mapping[str, Any]) -> pd.Series:
        return self.mask(frame, kwargs)


@dataclass(frozen=True)
class ColumnCheck(Check):
    """A Watchtower column-map expectation type, defined here once.

    ``rule(series, **params)`` -> True where a present value breaks it (missing values never
    do: GX skips nulls). ``params``: the expectation's own success keys, name -> (type,
    default). ``doc``: the GX expectation's docstring. The GX metric is
    ``column_values.<name>`` for type ``expect_column_values_to_be_<name>``.
    """

    rule: Callable[..., pd.Series]
    doc: str
    params: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        return "column_values." + self.type.removeprefix("expect_column_values_to_be_")

    def options(self, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**{k: d for k, (_, d) in self.params.items()}, **kwargs}

    def values(self, column: pd.Series, kwargs: Mapping[str, Any]) -> pd.Series:
        """True where a value of ``column`` breaks the rule (what GX's metric negates)."""
        options = self.options(kwargs)
        return self.rule(column, **{k: options[k] for k in self.params})

    def unexpected(self, frame: pd.DataFrame, kwargs: Mapping[str, Any]) -> pd.Series:
        return self.values(frame[kwargs["column"]], kwargs)


@dataclass(frozen=True)
class PairCheck(Check):
    """A Watchtower column-pair-map expectation type, defined here once.

    ``rule(column_A, column_B)`` -> True where the pair breaks it; ``ignore_row_if``: the
    default of GX's domain filter, applied to the mask too. The GX metric is
    ``column_pair_values.<name>`` for type ``expect_column_pair_values_<name>``.
    """

    rule: Callable[[pd.Series, pd.Series], pd.Series]
    doc: str
    ignore_row_if: IgnoreRowIf = "either_value_is_missing"

    @property
    def metric(self) -> str:
        return "column_pair_values." + self.type.removeprefix("expect_column_pair_values_")

    def options(self, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"ignore_row_if": self.ignore_row_if, **kwargs}

    def unexpected(self, frame: pd.DataFrame, kwargs: Mapping[str, Any]) -> pd.Series:
        kw = self.options(kwargs)
        a, b = frame[kw["column_A"]], frame[kw["column_B"]]
        return _pair_present(frame, kw) & self.rule(a, b)


def _safe_text(column: pd.Series, max_length: Any) -> pd.Series:
    return checks.bad_text(column, int(max_length))


def _unknown(column: pd.Series) -> pd.Series:
    return checks.unknown_values(column, checks.current_known_managers())


_CHECKS: tuple[Check, ...] = (
    GxCheck("expect_column_values_to_not_be_null", _r_not_null, _not_null),
    GxCheck("expect_column_values_to_be_in_set", _r_in_set, _in_set),
    GxCheck("expect_column_values_to_be_between", _r_between, _between),
    GxCheck(
        "expect_column_pair_values_a_to_be_greater_than_b", _r_a_greater_than_b, _a_greater_than_b
    ),
    GxCheck("expect_compound_columns_to_be_unique", _r_compound_unique, _compound_unique),
    ColumnCheck(
        "expect_column_values_to_be_valid_uscc",
        _r_uscc,
        checks.bad_uscc,
        """Expect values to be unified social credit codes with a correct check character.

    GB 32100-2015: 18 characters from ``0-9`` and ``A-Y`` without I, O, S, V, Z; the 18th is
    the check character over the first 17 with weights 3^(i-1) mod 31.
    ``91350100M000100Y43`` passes; ``91350100M000100Y4Z`` fails.
    """,
    ),
    ColumnCheck(
        "expect_column_values_to_be_valid_register_no",
        _r_register_no,
        checks.bad_register_no,
        "Expect values to be AMAC manager registration numbers: ``P`` + 7 ASCII digits.",
    ),
    ColumnCheck(
        "expect_column_values_to_be_valid_fund_no",
        _r_fund_no,
        checks.bad_fund_no,
        "Expect values to be AMAC fund numbers: ``S`` + 4-7 upper-case ASCII letters/digits.",
    ),
    ColumnCheck(
        "expect_column_values_to_be_safe_text",
        _r_text,
        _safe_text,
        """Expect names/addresses to be plain text: at most ``max_length`` characters, no leading
    spreadsheet formula character (= + - @), no HTML/script markup, no control characters,
    emoji or invisible characters.""",
        {"max_length": (int, 200)},
    ),
    ColumnCheck(
        "expect_column_values_to_be_known_register_no",
        _r_known,
        _unknown,
        """Expect register numbers to belong to managers already known (in the store, or loaded
    earlier in the same run). The reference set comes from
    :func:`watchtower.validate.checks.known_managers`.""",
    ),
    ColumnCheck(
        "expect_column_values_to_be_dates_between",
        _r_dates,
        checks.bad_date_range,
        """Expect dates within ``[min_value, max_value]`` (ISO ``YYYY-MM-DD``, inclusive).

    GX's own ``expect_column_values_to_be_between`` coerces string bounds to ``datetime.date``,
    which pandas 3 refuses to compare with datetime64 columns; this one compares Timestamps.
    Catches placeholder dates such as 1900-01-01 and 2100-01-01.
    """,
        {"min_value": (str | None, None), "max_value": (str | None, None)},
    ),
    PairCheck(
        "expect_column_pair_values_due_date_after_period",
        _r_due,
        checks.due_not_after_period,
        """Expect a report's due date (column_B) to fall after the last day of its period
    (column_A: ``2024-09``, ``2024Q3`` or ``2024``).""",
    ),
)

#: Every row-level expectation type the suites may use, by GX type name.
CHECKS: Mapping[str, Check] = {c.type: c for c in _CHECKS}


def supported(expectation_type: str) -> bool:
    """True when rows failing ``expectation_type`` can be found exactly (mask + reason)."""
    return expectation_type in CHECKS


def check_for(expectation_type: str) -> Check:
    """The check of ``expectation_type``; NotImplementedError names the fix when none exists."""
    try:
        return CHECKS[expectation_type]
    except KeyError:
        raise NotImplementedError(
            f"{expectation_type} has no row check in watchtower.validate.rows: add one before "
            "using it in a suite"
        ) from None
