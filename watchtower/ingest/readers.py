"""Read one landing file into a frame of raw text values, whatever its format.

Values stay text (``None`` when empty) so nothing is lost before parsing; the parser turns
them into typed columns. A file that cannot be read at all raises :class:`ReadError` with a
message a data engineer can act on.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd


class ReadError(ValueError):
    """The file cannot be read as landing data (the batch is recorded as failed)."""


def read_raw(path: Path, data: bytes) -> pd.DataFrame:
    """Raw records of ``data`` (the bytes of ``path``) as an object frame of text or None.

    Index: 1-based record number in the file. Columns: the file's headers as written.
    """
    suffix = path.suffix.lower()
    if not data.strip():
        raise ReadError("the file is empty")
    if suffix in (".json", ".jsonl"):
        frame = frame_from_records(_json_records(data, lines=suffix == ".jsonl"))
    elif suffix == ".csv":
        frame = _read_csv(data)
    elif suffix == ".xlsx":
        frame = _read_xlsx(data)
    else:
        raise ReadError(
            f"unsupported file type {suffix or '(none)'}: expected .json, .jsonl, .csv or .xlsx"
        )
    if frame.empty:
        raise ReadError("the file holds a header but no records")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030, the usual export of Chinese office software."""
    if b"\x00" in data[:65536]:
        raise ReadError("binary content (NUL bytes): not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"text is neither UTF-8 nor GB18030 (undecodable byte at offset {exc.start})"
        ) from exc


def _json_records(data: bytes, *, lines: bool) -> list[Any]:
    text = decode_text(data)
    if not lines:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            stripped = [ln for ln in text.splitlines() if ln.strip()]
            if len(stripped) > 1 and all(ln.lstrip().startswith("{") for ln in stripped):
                return _json_records(data, lines=True)
            raise ReadError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        if isinstance(doc, dict) and isinstance(doc.get("content"), list):
            return list(doc["content"])  # one AMAC API page
        if isinstance(doc, list):
            return doc
        raise ReadError(
            'JSON must be a list of records, an AMAC API page {"content": [...]} or JSON Lines'
        )
    records: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ReadError(f"invalid JSON Lines record on line {number}: {exc.msg}") from exc
    return records


def _text(value: Any) -> str | None:
    kind = type(value)
    if kind is str:  # most values of a JSON record: checked first
        return value if value.strip() else None
    if kind is int:
        return str(value)
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return text if text.strip() else None


def frame_from_records(records: list[Any]) -> pd.DataFrame:
    """Records (dicts) as an object frame of text or None; a non-dict record is kept under
    ``_value`` so that it is quarantined rather than lost."""
    rows: list[dict[str, str | None]] = []
    for record in records:
        if isinstance(record, dict):
            rows.append({str(k): _text(v) for k, v in record.items()})
        else:  # kept, so the row is quarantined rather than lost
            rows.append({"_value": _text(record)})
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    frame = pd.DataFrame(rows, columns=list(columns), dtype=object)
    return frame.where(frame.notna(), None)  # a key absent from a record is missing, not NaN


def _read_csv(data: bytes) -> pd.DataFrame:
    text = decode_text(data)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            engine="c",
        )
    except pd.errors.EmptyDataError as exc:
        raise ReadError("the file is empty") from exc
    except pd.errors.ParserError as exc:
        raise ReadError(f"malformed CSV: {exc}") from exc
    return frame.astype(object)  # empty cells stay "", the parser reads them as missing


def _read_xlsx(data: bytes) -> pd.DataFrame:
    """First sheet of an XLSX file, read with calamine (a Rust reader, ~10x openpyxl)."""
    try:
        sheet = pd.read_excel(io.BytesIO(data), engine="calamine", header=None, dtype=object)
    except Exception as exc:  # the reader raises its own error types for non-spreadsheets
        raise ReadError(f"not a readable XLSX spreadsheet: {exc}") from exc
    if sheet.empty:
        raise ReadError("the spreadsheet's first sheet is empty")
    names = [_text(h) or f"column_{i + 1}" for i, h in enumerate(sheet.iloc[0])]
    body = sheet.iloc[1:]
    body = body[body.notna().any(axis=1)]
    frame = pd.DataFrame(
        [[_text(v) for v in row] for row in body.itertuples(index=False, name=None)],
        columns=names,
        dtype=object,
    )
    return frame.where(frame.notna(), None)
