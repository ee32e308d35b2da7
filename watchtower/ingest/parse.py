"""Turn raw text records into the contract's typed columns, vectorized.

Every value that cannot be read as its field's kind is reported as a row failure (field,
check, reason) and the row goes to quarantine; nothing is silently dropped or guessed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from watchtower.contract import (
    CANCELLATION_STATUS,
    DISCLOSURE_PERIODS,
    FIELDS,
    IDENTITY,
    KNOWN_FROM,
    PLACEHOLDER_DATES,
    PLACEHOLDERS,
    PLACEHOLDERS_WHERE,
    SNAPSHOT_SOURCES,
    Field,
    Source,
    header_lookup,
    normalize_header,
)
from watchtower.ingest.aliases import Aliases
from watchtower.ingest.details import disclosure_counts, scale_bounds, tip_categories


@dataclass(frozen=True)
class RowFailure:
    """Why one row is quarantined or flagged: the contract field, the check that failed and a
    readable reason. The one type for the parser's checks (``check`` e.g. ``required``) and the
    quality gate's (``check`` = the GX expectation type, see :mod:`watchtower.validate`)."""

    field: str
    check: str
    reason: str

    @property
    def expectation(self) -> str:
        """The check, named as the quality gate names it: its GX expectation type."""
        return self.check


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
_AMAC_TZ = ZoneInfo("Asia/Shanghai")  # AMAC's epoch milliseconds are midnights in Beijing time


def _clean(series: pd.Series, *, nfkc: bool) -> pd.Series:
    """Strip text; empty -> None; optionally NFKC-fold (full-width digits, parentheses)."""
    s = series.astype(object)
    present = s.notna().to_numpy()
    if not present.any():
        return s
    text = s[present].astype(str).str.strip()
    if nfkc:
        odd = ~text.map(str.isascii).to_numpy(dtype=bool)
        if odd.any():
            text[odd] = text[odd].map(lambda v: unicodedata.normalize("NFKC", v))
    values = text.to_numpy(dtype=object)
    values[values == ""] = None
    out = np.full(len(s), None, dtype=object)
    out[present] = values
    return pd.Series(out, index=s.index, dtype=object)


_BAD = object()  # marks a value that cannot be parsed


def _by_unique(
    series: pd.Series, parse: Callable[[str], object], dtype: str
) -> tuple[pd.Series, pd.Series]:
    """Apply ``parse`` once per distinct value (dates, flags and enums repeat a lot).

    Returns (parsed series of ``dtype``, mask of present values that ``parse`` rejected).
    """
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    parsed = [parse(u) for u in uniques]
    bad_u = np.array([p is _BAD for p in parsed] + [False], dtype=bool)
    values = np.empty(len(parsed) + 1, dtype=object)
    values[:] = [None if p is _BAD else p for p in parsed] + [None]
    out = pd.Series(values[codes], index=series.index)  # code -1 picks the trailing None
    if dtype == "datetime64[s]":
        out = pd.to_datetime(out).astype("datetime64[s]")
    else:
        out = out.astype(dtype)
    return out, pd.Series(bad_u[codes], index=series.index)


def _parse_date_text(text: str) -> object:
    value = unicodedata.normalize("NFKC", text).strip() if not text.isascii() else text.strip()
    if not value:
        return None
    if _EPOCH_RE.match(value):
        ms = int(float(value))
        return dt.datetime.fromtimestamp(ms / 1000, tz=_AMAC_TZ).date()
    m = _DATE_RE.match(value) or _COMPACT_DATE_RE.match(value)
    if m is None:
        return _BAD
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return _BAD


def parse_dates(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates from ISO, ``YYYY/MM/DD``, ``YYYY年MM月DD日``, ``YYYYMMDD`` or epoch milliseconds.

    Returns (datetime64[s] series, boolean mask of present-but-unparseable values).
    """
    return _by_unique(series, _parse_date_text, "datetime64[s]")


def _parse_number_text(text: str) -> object:
    value = unicodedata.normalize("NFKC", text) if not text.isascii() else text
    value = re.sub(r"[,\s¥￥]|万元$|元$", "", value)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return _BAD
    return number if math.isfinite(number) else _BAD


def parse_numbers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Floats from text with optional thousands separators, currency marks, full-width digits."""
    s = series.astype(object)
    present = s.notna() & (s.astype(str).str.strip() != "")
    fast = pd.to_numeric(s.where(present), errors="coerce").astype("float64")
    fast[np.isinf(fast)] = np.nan  # "inf" is no amount: send it to the careful path, refused
    slow = present & fast.isna()
    bad = pd.Series(False, index=s.index)
    if slow.any():  # the few values C parsing refused: commas, units, full-width digits
        values, slow_bad = _by_unique(s[slow], _parse_number_text, "float64")
        fast[slow] = values
        bad[slow] = slow_bad
    return fast, bad


def _parse_bool_text(text: str) -> object:
    value = unicodedata.normalize("NFKC", text).strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return _BAD


def parse_bools(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    return _by_unique(series, _parse_bool_text, "boolean")


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


def _parse_period_text(text: str) -> object:
    value = unicodedata.normalize("NFKC", text).strip()
    if not value:
        return None
    return parse_period(value) or _BAD


def map_headers(
    source: Source, headers: list[str], aliases: Aliases | None = None
) -> tuple[dict[str, tuple[Field, float]], list[str]]:
    """Match the file's headers to contract fields (names, labels, columns and ``aliases``).

    Returns ({header: (field, money factor)}, [unknown headers]). A field matched by two
    headers keeps the first; the second is kept as an unknown column.
    """
    lookup = header_lookup(source, aliases)
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
    source: Source,
    raw: pd.DataFrame,
    *,
    file_date: dt.date | None,
    ingest_date: dt.date,
    aliases: Aliases | None = None,
) -> ParsedFile:
    """Parse raw records of one file of ``source`` into typed contract columns.

    Raises :class:`MissingColumnError` when a required field, or every field that could
    identify a row (contract ``IDENTITY``), has no column at all: a structural fault.
    ``known_from`` follows the contract's point-in-time rules; snapshots without a
    snapshotDate take the file name's date, else ``ingest_date``. Placeholders of the public
    feed (contract ``PLACEHOLDERS``, ``PLACEHOLDER_DATES``) become missing values.
    """
    matched, unknown = map_headers(source, [str(c) for c in raw.columns], aliases)
    found = {f.name for f, _ in matched.values()}
    missing = [f for f in FIELDS[source] if f.required and f.name not in found]
    identity = IDENTITY[source]
    if not found & set(identity):
        missing += [f for f in FIELDS[source] if f.name == identity[0] and f not in missing]
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
    if len(identity) > 1:
        columns = [f.column for f in FIELDS[source] if f.name in identity]
        nobody = parsed.frame.index[parsed.frame[columns].isna().all(axis=1)]
        parsed.add(
            nobody,
            RowFailure(identity[0], "required", f"none of {' / '.join(identity)} is given"),
        )
    _blank_placeholders(parsed)
    _derive(parsed)
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


#: Flags the rows where ``bad`` is true: (bad, check, what is wrong with the value).
_Flag = Callable[[pd.Series, str, str], None]


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
        return _parse_number_column(f, values, factor, flag)
    if f.kind == "bool":
        out, bad = parse_bools(values)
        flag(bad, "boolean", "is not a yes/no value (true/false, 是/否, 1/0, Y/N)")
        return out
    if f.kind == "ratio":
        ratios, bad = _by_unique(values, _parse_ratio_text, "float64")
        flag(bad, "number", "is not a ratio (100%, 37.5%, 0.375)")
        return ratios
    if f.kind == "json":
        return _by_unique(values, _parse_json_text, "object")[0]
    if f.kind == "period":
        periods, bad = _by_unique(values, _parse_period_text, "object")
        flag(bad, "period", "is not a period (2024-09, 2024Q3, 2024)")
        return periods
    return _parse_text_column(f, values)


def _parse_number_column(f: Field, values: pd.Series, factor: float, flag: _Flag) -> pd.Series:
    """money (times the file's unit ``factor``), float, or int (a fraction is flagged)."""
    numbers, bad = parse_numbers(values)
    flag(bad, "number", "is not a number")
    if f.kind == "money":
        return numbers * factor
    if f.kind == "int":
        fractional = numbers.notna() & (numbers != np.floor(numbers.fillna(0)))
        flag(fractional, "integer", "is not a whole number")
        return numbers.where(~fractional).round().astype("Int64")
    return numbers


def _parse_text_column(f: Field, values: pd.Series) -> pd.Series:
    """code (NFKC, no spaces, upper case), enum (an alias to its value), or plain text."""
    if f.kind == "code":
        clean = _clean(values, nfkc=True)
        return clean.map(lambda v: v.replace(" ", "").upper() if isinstance(v, str) else None)
    if f.kind == "enum":
        clean = _clean(values, nfkc=False)
        aliases = dict(f.aliases) | {e.lower(): e for e in f.enum}
        return clean.map(lambda v: aliases.get(v, aliases.get(v.lower(), v)) if v else None)
    return _clean(values, nfkc=False)


def _parse_ratio_text(text: str) -> object:
    value = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    if not value or value in ("-", "--"):
        return None
    percent = value.endswith("%")
    try:
        number = float(value.rstrip("%").replace(",", ""))
    except ValueError:
        return _BAD
    if not math.isfinite(number):
        return _BAD
    return number / 100 if percent else number


def _parse_json_text(text: str) -> object:
    """A nested value (a list of executives, managersInfo) as data; plain text stays text."""
    value = text.strip()
    if value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_PLACEHOLDER_DAYS = pd.to_datetime(list(PLACEHOLDER_DATES)).astype("datetime64[s]")


def _blank_placeholders(parsed: ParsedFile) -> None:
    """The feed's "not known" values become missing (contract, "Placeholders")."""
    frame = parsed.frame
    for f in FIELDS[parsed.source]:
        if f.kind == "date" and f.column in frame:
            column = frame[f.column]
            frame[f.column] = column.where(~column.isin(_PLACEHOLDER_DAYS))
    marker = PLACEHOLDERS_WHERE.get(parsed.source)
    if marker is not None and marker not in parsed.columns_found:
        return  # not the public list's answer: its values are the exporter's own
    for name, values in PLACEHOLDERS.get(parsed.source, {}).items():
        column = next(f.column for f in FIELDS[parsed.source] if f.name == name)
        if column in frame:
            frame[column] = frame[column].where(~frame[column].isin(values))


_MANAGER_ID_IN_URL = re.compile(r"(\d{6,})\.html?$")


def _derive(parsed: ParsedFile) -> None:
    """Fields the feed carries inside others: a fund's manager id inside ``managersInfo`` or
    ``managerUrl``; a deregistration's status code or name from the other; a detail page's
    composites (scale range -> bounds in 万元, disclosure text -> counts, tip text -> its
    categories), whatever header the file gave them, where the file did not give them split."""
    frame = parsed.frame
    if parsed.source in ("manager_details", "fund_details"):
        _split_composites(frame)
    if parsed.source == "funds":
        ids = frame["manager_amac_id"].astype(object)
        need = ids.isna()
        if need.any():
            from_info = frame.loc[need, "managers_info"].map(_first_manager_id)
            from_url = frame.loc[need, "manager_url"].map(_id_in_url)
            ids[need] = from_info.where(from_info.notna(), from_url)
        frame["manager_amac_id"] = ids
    if parsed.source == "cancellations":
        by_name = {v: k for k, v in CANCELLATION_STATUS.items()}
        status = frame["status"].astype(object)
        name = frame["status_name"].astype(object)
        numeric = name.map(lambda v: isinstance(v, str) and v.isdigit())
        status = status.where(status.notna() | ~numeric, name)  # akshare: 注销类型 = 300
        name = name.where(~numeric, status.map(CANCELLATION_STATUS.get))
        status = status.where(status.notna(), name.map(by_name.get))
        name = name.where(name.notna(), status.map(CANCELLATION_STATUS.get))
        frame["status"] = status
        frame["status_name"] = name


def _split_composites(frame: pd.DataFrame) -> None:
    def fill(column: str, values: pd.Series, dtype: str) -> None:
        values = values.astype(dtype)
        frame[column] = frame[column].where(frame[column].notna(), values)

    if "scale_range" in frame:
        bounds = frame["scale_range"].map(lambda t: scale_bounds(t if isinstance(t, str) else None))
        fill("scale_low", bounds.map(lambda b: _number(b[0])), "float64")
        fill("scale_high", bounds.map(lambda b: _number(b[1])), "float64")
    for period in DISCLOSURE_PERIODS:
        text = f"{period}_disclosure"
        if text not in frame:
            continue
        counts = frame[text].map(lambda t: disclosure_counts(t if isinstance(t, str) else None))
        for i, what in enumerate(("due", "on_time", "missing")):
            fill(f"{period}_{what}", counts.map(lambda c, i=i: _number(c[i])), "Int64")
    for info in ("integrity", "institution", "special"):
        text, tips = f"{info}_info", f"{info}_tips"
        if text in frame and tips in frame:
            found = frame[text].map(lambda t: tip_categories(t) if isinstance(t, str) else None)
            frame[tips] = frame[tips].where(frame[tips].notna(), found)


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def _first_manager_id(info: object) -> str | None:
    if isinstance(info, list) and info and isinstance(info[0], dict):
        value = info[0].get("managerId")
        return None if value in (None, "") else str(value)
    return None


def _id_in_url(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    match = _MANAGER_ID_IN_URL.search(url.strip())
    return match.group(1) if match else None


def _fill_known_from(
    parsed: ParsedFile, *, file_date: dt.date | None, ingest_date: dt.date
) -> None:
    frame = parsed.frame
    fallback = pd.Timestamp(file_date or ingest_date)
    known_col = KNOWN_FROM[parsed.source]
    column = next(f.column for f in FIELDS[parsed.source] if f.name == known_col)
    if parsed.source in SNAPSHOT_SOURCES:
        frame[column] = frame[column].fillna(fallback)
    if parsed.source == "events":
        frame["reported_date"] = frame["reported_date"].fillna(frame["event_date"])
    known = frame[column]
    if parsed.source == "reports":  # not (yet) submitted: known as of the file
        known = known.fillna(fallback)
    frame["known_from"] = known.astype("datetime64[s]")


def _extras(raw: pd.DataFrame, unknown: list[str]) -> pd.Series:
    if not unknown:
        return pd.Series(np.full(len(raw), None, dtype=object), index=raw.index, dtype=object)
    extra = raw[unknown]
    return pd.Series(
        [
            {k: v for k, v in zip(unknown, row, strict=True) if v is not None and v != ""} or None
            for row in extra.itertuples(index=False, name=None)
        ],
        index=raw.index,
        dtype=object,
    )
