"""Turn raw text records into the contract's typed columns, vectorized.

Every value that cannot be read as its field's kind is reported as a row failure (field,
check, reason) and the row goes to quarantine; nothing is silently dropped or guessed.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from watchtower.contract import FIELDS, KNOWN_FROM, Field, Source, header_lookup, normalize_header


@dataclass(frozen=True)
class RowFailure:
    """Why one row is quarantined: the field, the check that failed and a readable reason."""

    field: str
    check: str
    reason: str


@dataclass
class ParsedFile:
    """A file's records in canonical typed columns.

    ``frame``: index = 1-based record number; columns = snake_case contract columns found in
    the file plus ``known_from`` and ``extra`` (dict of unknown columns, or None).
    ``failures``: record number -> every parse failure of that record.
    """

    source: Source
    frame: pd.DataFrame
    raw: pd.DataFrame
    failures: dict[int, list[RowFailure]] = field(default_factory=dict)
    columns_found: dict[str, str] = field(default_factory=dict)  # contract name -> header

    def add(self, rows: pd.Index | np.ndarray, failure_for: RowFailure | pd.Series) -> None:
        for row in rows:
            f = failure_for if isinstance(failure_for, RowFailure) else failure_for[row]
            self.failures.setdefault(int(row), []).append(f)


class MissingColumnError(ValueError):
    """A required contract field has no column in the file."""


_TRUE = {"true", "1", "是", "y", "yes", "t", "1.0"}
_FALSE = {"false", "0", "否", "n", "no", "f", "0.0"}
_DATE_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_COMPACT_DATE_RE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
_EPOCH_RE = re.compile(r"^\s*-?\d{11,13}(?:\.0+)?\s*$")
_MONTH_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?\s*$")
_QUARTER_RE = re.compile(
    r"^\s*(\d{4})\s*(?:年\s*)?(?:Q|第)\s*([1-4一二三四])\s*(?:季度?)?\s*$", re.I
)
_YEAR_RE = re.compile(r"^\s*(\d{4})\s*年?(?:度)?\s*$")
_ZH_DIGIT = {"一": "1", "二": "2", "三": "3", "四": "4"}
_AMAC_TZ = "Asia/Shanghai"  # AMAC's epoch milliseconds are midnights in Beijing time


def _clean(series: pd.Series, *, nfkc: bool) -> pd.Series:
    """Strip text; empty -> None; optionally NFKC-fold (full-width digits, parentheses)."""
    s = series.astype(object)
    present = s.notna()
    s = s.where(~present, s.astype(str).str.strip())
    if nfkc:
        text = s[present]
        odd = ~text.map(str.isascii)
        if odd.any():
            s.loc[text[odd].index] = text[odd].map(lambda v: unicodedata.normalize("NFKC", v))
    return s.where(s.notna() & (s != ""), None)


def parse_dates(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from ISO, ``YYYY/MM/DD``, ``YYYY年MM月DD日``, ``YYYYMMDD`` or epoch milliseconds.

    Returns (datetime64[s] series, boolean mask of present-but-unparseable values).
    """
    s = _clean(series, nfkc=True)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    present = s.notna()
    text = s[present].astype(str)
    epoch = text.str.match(_EPOCH_RE)
    if epoch.any():
        ms = pd.to_numeric(text[epoch], errors="coerce")
        stamps = pd.to_datetime(ms, unit="ms", utc=True, errors="coerce")
        local = stamps.dt.tz_convert(_AMAC_TZ).dt.tz_localize(None).dt.normalize()
        out.loc[local.index] = local.astype("datetime64[s]")
    rest = text[~epoch]
    if len(rest):
        parts = rest.str.extract(_DATE_RE)
        compact = rest.str.extract(_COMPACT_DATE_RE)
        parts = parts.fillna(compact)
        ok = parts.notna().all(axis=1)
        if ok.any():
            ymd = parts[ok].astype(int)
            built = pd.to_datetime(
                {"year": ymd[0], "month": ymd[1], "day": ymd[2]}, errors="coerce"
            )
            out.loc[built.index] = built.astype("datetime64[s]")
    bad = present & out.isna()
    return out, bad


def parse_numbers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Floats from text with optional thousands separators and currency marks."""
    s = _clean(series, nfkc=True)
    present = s.notna()
    text = s[present].astype(str).str.replace(r"[,\s¥￥]|万元$|元$", "", regex=True)
    values = pd.to_numeric(text, errors="coerce")
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    out.loc[values.index] = values.astype("float64")
    bad = present & out.isna()
    return out, bad


def parse_bools(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    s = _clean(series, nfkc=True)
    lowered = s.dropna().astype(str).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out.loc[lowered.index[lowered.isin(_TRUE)]] = True
    out.loc[lowered.index[lowered.isin(_FALSE)]] = False
    bad = s.notna() & out.isna()
    return out, bad


def parse_period(value: str) -> str | None:
    """Canonical report period: ``2024-09`` (month), ``2024Q3`` (quarter), ``2024`` (year)."""
    if m := _MONTH_RE.match(value):
        month = int(m.group(2))
        return f"{m.group(1)}-{month:02d}" if 1 <= month <= 12 else None
    if m := _QUARTER_RE.match(value):
        return f"{m.group(1)}Q{_ZH_DIGIT.get(m.group(2), m.group(2))}"
    if m := _YEAR_RE.match(value):
        return m.group(1)
    return None


def map_headers(
    source: Source, headers: list[str]
) -> tuple[dict[str, tuple[Field, float]], list[str]]:
    """Match the file's headers to contract fields.

    Returns ({header: (field, money factor)}, [unknown headers]). A field matched by two
    headers keeps the first; the second is kept as an unknown column.
    """
    lookup = header_lookup(source)
    matched: dict[str, tuple[Field, float]] = {}
    taken: set[str] = set()
    unknown: list[str] = []
    for header in headers:
        key, factor = normalize_header(header)
        f = lookup.get(key)
        if f is None or f.name in taken:
            unknown.append(header)
            continue
        matched[header] = (f, factor)
        taken.add(f.name)
    return matched, unknown


def parse_frame(
    source: Source, raw: pd.DataFrame, *, file_date: dt.date | None, ingest_date: dt.date
) -> ParsedFile:
    """Parse raw records of one file of ``source`` into typed contract columns.

    Raises :class:`MissingColumnError` when a required field has no column at all.
    ``known_from`` follows the contract's point-in-time rules; snapshots without a
    snapshotDate take the file name's date, else ``ingest_date``.
    """
    matched, unknown = map_headers(source, [str(c) for c in raw.columns])
    found = {f.name for f, _ in matched.values()}
    missing = [f for f in FIELDS[source] if f.required and f.name not in found]
    if source == "events" and not found & {"registerNo", "uscc"}:
        missing.append(next(f for f in FIELDS[source] if f.name == "registerNo"))
    if missing:
        names = ", ".join(f"{f.name} ({f.zh})" for f in missing)
        raise MissingColumnError(
            f"no column for required field(s) {names}; headers found: "
            + ", ".join(map(str, raw.columns))
        )

    parsed = ParsedFile(source=source, frame=pd.DataFrame(index=raw.index), raw=raw)
    for header, (f, factor) in matched.items():
        parsed.columns_found[f.name] = header
        parsed.frame[f.column] = _parse_column(parsed, f, raw[header], factor)

    for f in FIELDS[source]:  # absent optional fields are missing values, not errors
        if f.column not in parsed.frame:
            parsed.frame[f.column] = _empty_column(f, raw.index)
        if f.required:
            empty = parsed.frame.index[parsed.frame[f.column].isna()]
            parsed.add(empty, RowFailure(f.name, "required", f"required field {f.name} is empty"))
    if source == "events":
        neither = parsed.frame.index[
            parsed.frame["register_no"].isna() & parsed.frame["uscc"].isna()
        ]
        parsed.add(
            neither, RowFailure("registerNo", "required", "neither registerNo nor uscc is given")
        )

    _fill_known_from(parsed, file_date=file_date, ingest_date=ingest_date)
    text = [f.column for f in FIELDS[source] if f.kind in ("str", "code", "enum", "period")]
    parsed.frame[text] = parsed.frame[text].astype("string")
    parsed.frame["extra"] = _extras(raw, unknown)
    return parsed


def _empty_column(f: Field, index: pd.Index) -> pd.Series:
    dtype = {
        "date": "datetime64[s]",
        "money": "float64",
        "float": "float64",
        "int": "Int64",
        "bool": "boolean",
    }.get(f.kind, "object")
    missing = {"datetime64[s]": pd.NaT, "float64": np.nan, "object": None}.get(dtype, pd.NA)
    return pd.Series(missing, index=index, dtype=dtype)


def _parse_column(parsed: ParsedFile, f: Field, values: pd.Series, factor: float) -> pd.Series:
    def flag(bad: pd.Series, check: str, what: str) -> None:
        rows = bad.index[bad.to_numpy(dtype=bool)]
        if len(rows):
            reasons = values[rows].map(lambda v: f"{f.name} {str(v)[:80]!r} {what}")
            parsed.add(rows, reasons.map(lambda r: RowFailure(f.name, check, r)))

    if f.kind == "date":
        out, bad = parse_dates(values)
        flag(bad, "date", "is not a date (YYYY-MM-DD, YYYY/MM/DD, YYYY年MM月DD日 or epoch ms)")
        return out
    if f.kind in ("money", "float", "int"):
        numbers, bad = parse_numbers(values)
        flag(bad, "number", "is not a number")
        if f.kind == "money":
            return numbers * factor
        if f.kind == "int":
            fractional = numbers.notna() & (numbers != np.floor(numbers.fillna(0)))
            flag(fractional, "integer", "is not a whole number")
            return numbers.where(~fractional).round().astype("Int64")
        return numbers
    if f.kind == "bool":
        out, bad = parse_bools(values)
        flag(bad, "boolean", "is not a yes/no value (true/false, 是/否, 1/0, Y/N)")
        return out
    if f.kind == "period":
        clean = _clean(values, nfkc=True)
        periods = clean.map(lambda v: parse_period(v) if v is not None else None)
        flag(clean.notna() & periods.isna(), "period", "is not a period (2024-09, 2024Q3, 2024)")
        return periods.astype(object)
    if f.kind == "code":
        clean = _clean(values, nfkc=True)
        return clean.map(lambda v: v.replace(" ", "").upper() if v is not None else None)
    if f.kind == "enum":
        clean = _clean(values, nfkc=False)
        aliases = dict(f.aliases) | {e.lower(): e for e in f.enum}
        return clean.map(lambda v: aliases.get(v, aliases.get(v.lower(), v)) if v else None)
    return _clean(values, nfkc=False)


def _fill_known_from(
    parsed: ParsedFile, *, file_date: dt.date | None, ingest_date: dt.date
) -> None:
    frame = parsed.frame
    fallback = pd.Timestamp(file_date or ingest_date)
    known_col = KNOWN_FROM[parsed.source]
    column = next(f.column for f in FIELDS[parsed.source] if f.name == known_col)
    if parsed.source in ("managers", "funds"):
        frame[column] = frame[column].fillna(fallback)
    if parsed.source == "events":
        frame["reported_date"] = frame["reported_date"].fillna(frame["event_date"])
    known = frame[column]
    if parsed.source == "reports":  # not (yet) submitted: known as of the file
        known = known.fillna(fallback)
    frame["known_from"] = known.astype("datetime64[s]")


def _extras(raw: pd.DataFrame, unknown: list[str]) -> pd.Series:
    if not unknown:
        return pd.Series(None, index=raw.index, dtype=object)
    extra = raw[unknown]
    return pd.Series(
        [
            {k: v for k, v in zip(unknown, row, strict=True) if v is not None and v != ""} or None
            for row in extra.itertuples(index=False, name=None)
        ],
        index=raw.index,
        dtype=object,
    )
