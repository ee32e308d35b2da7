"""Read one landing file into a frame of raw text values, whatever its format, under limits.

Values stay text (``None`` when empty) so nothing is lost before parsing; the parser turns
them into typed columns. A file that cannot be read at all raises :class:`ReadError` with a
message a data engineer can act on.

Every file is read under :class:`ReadLimits`: a hard size limit, a nesting depth checked
before JSON is parsed, and an XLSX's zip members, shared-string count and sheet dimensions
checked (streamed, nothing materialised) before the spreadsheet reader allocates anything.
Large CSV and JSON Lines files are not refused but read in chunks (:func:`iter_csv_frames`,
:func:`iter_jsonl_frames`). Messages never quote file content beyond header names, and those
only through :func:`safe_header`; :func:`safe_message` is the one place a message is redacted.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_LIMITS",
    "ReadError",
    "ReadLimits",
    "check_json_depth",
    "check_xlsx",
    "decode_text",
    "describe_error",
    "frame_from_records",
    "iter_csv_frames",
    "iter_jsonl_frames",
    "printable_path",
    "read_raw",
    "safe_header",
    "safe_message",
    "sniff_encoding",
]


class ReadError(ValueError):
    """The file cannot be read as landing data (the batch is recorded as failed)."""


_MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """What one landing file may cost to read; above a limit the file is a failed batch.

    ``max_file_bytes``: the hard limit for any file. ``max_document_bytes``: formats read
    whole (a JSON document, XLSX, HTML); CSV and JSON Lines above ``stream_above_bytes`` are
    read ``chunk_rows`` records at a time instead, each chunk a batch of its own, so memory
    stays bounded whatever their size. ``max_depth``: JSON nesting (real crawls nest 5 deep).
    XLSX: rows, cells of the sheet's range (the reader allocates the whole rectangle), shared
    strings, unpacked bytes and the compression ratio of any zip member (a zip bomb).
    """

    max_file_bytes: int = 4096 * _MB
    max_document_bytes: int = 256 * _MB
    stream_above_bytes: int = 16 * _MB
    chunk_rows: int = 50_000
    max_depth: int = 64
    xlsx_max_rows: int = 1_048_576
    xlsx_max_cells: int = 20_000_000
    xlsx_max_shared_strings: int = 20_000_000
    xlsx_max_unpacked_bytes: int = 1024 * _MB
    xlsx_max_ratio: int = 200


DEFAULT_LIMITS = ReadLimits()


# --- messages: what may be said about a file --------------------------------------------------

#: Words that make a header or a key=value look like a secret.
_SECRET_WORDS = re.compile(
    r"pass(?:word|wd)?|pwd|secret|token|api[-_ ]?key|private[-_ ]?key|credential|auth|"
    r"cookie|session|bearer|密码|口令|密钥",
    re.IGNORECASE,
)
#: ``name=value`` / ``name: value`` where the name holds a secret word: the value goes.
_SECRET_ASSIGNMENT = re.compile(
    r"[^\s=:,;()'\"]*(?:" + _SECRET_WORDS.pattern + r")[^\s=:,;()'\"]*\s*[=:]\s*[^\s,;()]+",
    re.IGNORECASE,
)
#: A long run of key-like characters with letters and digits (a token, a hash, a base64
#: blob) is not said either; a long identifier of words (a check's name) is.
_KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9+/_\-])(?=[A-Za-z0-9+/_\-]*[0-9])(?=[A-Za-z0-9+/_\-]*[A-Za-z])"
    r"[A-Za-z0-9+/_\-]{32,}={0,2}"
)
_HEADER_MAX = 40
_MESSAGE_MAX = 500
REDACTED = "[redacted]"


def safe_header(name: object) -> str:
    """A header name as a message may show it, else ``[redacted]``.

    A header is a short name; one that is long, holds ``=`` or a ``:`` followed by text (a
    config line read as a header: ``db_password=hunter2``) or a secret-ish word is not shown.
    """
    text = " ".join(str(name).split())
    if (
        len(text) > _HEADER_MAX
        or "=" in text
        or re.search(r":\s*\S", text)
        or _SECRET_WORDS.search(text)
        or _KEY_LIKE.search(text)
    ):
        return REDACTED
    return text


def safe_message(message: str) -> str:
    """The one redaction every refusal message goes through: one line, bounded, with
    secret-looking assignments and key-like strings replaced by ``[redacted]``."""
    text = " ".join(str(message).split())
    text = _SECRET_ASSIGNMENT.sub(REDACTED, text)
    text = _KEY_LIKE.sub(REDACTED, text)
    text = printable_text(text)
    if len(text) > _MESSAGE_MAX:
        text = text[: _MESSAGE_MAX - 1] + "…"
    return text


def printable_text(text: str) -> str:
    """``text`` without lone surrogates (a file name that is not UTF-8, decoded by the OS
    layer with surrogateescape): its bytes shown as ``\\xff``, so every store accepts it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def printable_path(path: Path | str) -> str:
    """A path as it is stored and shown (see :func:`printable_text`)."""
    return printable_text(str(path))


def describe_error(exc: BaseException) -> str:
    """A one-line message for any error raised while reading or parsing one file.

    Our own :class:`ReadError` messages say what is wrong and where; anything else is named by
    its kind only, since library messages may quote the content that broke them.
    """
    if isinstance(exc, ReadError):
        return safe_message(str(exc))
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "too large to read in memory"
    if isinstance(exc, UnicodeError):
        return "text that cannot be decoded"
    if isinstance(exc, OSError):
        return f"cannot be opened: {exc.strerror or type(exc).__name__}"
    return f"cannot be read ({type(exc).__name__}); the content is not quoted here"


# --- limits checked before a reader materialises anything -------------------------------------

_KEEP_QUOTES_AND_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}"')


def check_json_depth(data: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit`` before ``json.loads`` recurses into it.

    A byte scan at C speed: escaped backslashes and quotes dropped, only quotes and brackets
    kept, brackets inside strings (an odd number of quotes before them) ignored, then the
    running depth (numpy). A document with fewer brackets than the limit is not scanned.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return
    reduced = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = np.frombuffer(reduced.translate(None, _KEEP_QUOTES_AND_BRACKETS), np.uint8)
    quote = marks == ord('"')
    outside = ~quote & ((np.cumsum(quote, dtype=np.int64) & 1) == 0)
    steps = np.where((marks == ord("[")) | (marks == ord("{")), 1, -1)[outside]
    if len(steps) and int(np.cumsum(steps, dtype=np.int64).max()) > limit:
        raise ReadError(f"JSON nested deeper than {limit} levels")


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([^"]*)"')
_CELL_REF = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]{1,7})([0-9]{1,10})"')
_ROW_REF = re.compile(rb'<(?:\w+:)?row\s[^>]*?\br="([0-9]{1,10})"')
_REF = re.compile(r"([A-Z]{1,7})?([0-9]{1,10})?")
_SST_TAG = re.compile(rb"<(?:\w+:)?sst\b[^>]*>")
_SST_COUNTS = re.compile(rb'\b(count|uniqueCount)="([0-9]+)"')


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def check_xlsx(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> None:
    """Refuse an XLSX whose reader would allocate more than the limits allow.

    Checked from the zip's directory and by streaming the XML (regular expressions over 1 MB
    blocks; nothing is built): members' unpacked sizes and compression ratios, the shared
    strings' declared ``count``/``uniqueCount``, and each sheet's ``<dimension ref>`` and
    largest cell and row reference (the reader allocates the rectangle up to the last cell).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ReadError("not a readable XLSX spreadsheet (not a zip archive)") from exc
    with archive:
        infos = archive.infolist()
        total = sum(i.file_size for i in infos)
        if total > limits.xlsx_max_unpacked_bytes:
            raise ReadError(
                f"XLSX unpacks to {total // _MB} MB, above the "
                f"{limits.xlsx_max_unpacked_bytes // _MB} MB limit"
            )
        for info in infos:
            if info.file_size > _MB and info.file_size > limits.xlsx_max_ratio * max(
                info.compress_size, 1
            ):
                raise ReadError(
                    f"XLSX member compressed more than {limits.xlsx_max_ratio}:1 (a zip bomb?)"
                )
        names = {i.filename for i in infos}
        if "xl/sharedStrings.xml" in names:
            with archive.open("xl/sharedStrings.xml") as handle:
                head = handle.read(4096)
            tag = _SST_TAG.search(head)
            for _, value in _SST_COUNTS.findall(tag.group(0) if tag else b""):
                if int(value) > limits.xlsx_max_shared_strings:
                    raise ReadError(
                        f"XLSX declares {int(value)} shared strings, above the "
                        f"{limits.xlsx_max_shared_strings} limit"
                    )
        sheets = sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml"))
        for name in sheets:
            _check_sheet(archive, name, limits)


def _check_sheet(archive: zipfile.ZipFile, name: str, limits: ReadLimits) -> None:
    max_row = max_col = 0
    tail = b""
    with archive.open(name) as handle:
        while block := handle.read(_MB):
            chunk = tail + block
            for ref in _DIMENSION.findall(chunk):
                for corner in ref.decode("ascii", "replace").split(":"):
                    match = _REF.fullmatch(corner.replace("$", ""))
                    if match:
                        col, row = match.groups()
                        max_col = max(max_col, _column_number(col) if col else 0)
                        max_row = max(max_row, int(row) if row else 0)
            for col, row in _CELL_REF.findall(chunk):
                max_col = max(max_col, _column_number(col.decode("ascii")))
                max_row = max(max_row, int(row))
            for row in _ROW_REF.findall(chunk):
                max_row = max(max_row, int(row))
            tail = chunk[-256:]
    if max_row > limits.xlsx_max_rows:
        raise ReadError(f"XLSX sheet reaches row {max_row}, above the {limits.xlsx_max_rows} limit")
    if max_row * max_col > limits.xlsx_max_cells:
        raise ReadError(
            f"XLSX sheet spans {max_row} rows x {max_col} columns, above the "
            f"{limits.xlsx_max_cells} cells limit"
        )


def read_raw(path: Path, data: bytes, *, limits: ReadLimits = DEFAULT_LIMITS) -> pd.DataFrame:
    """Raw records of ``data`` (the bytes of ``path``) as an object frame of text or None.

    Index: 1-based record number in the file. Columns: the file's headers as written.
    """
    suffix = path.suffix.lower()
    if not data.strip():
        raise ReadError("the file is empty")
    if suffix in (".json", ".jsonl"):
        check_json_depth(data, limits.max_depth)
        frame = frame_from_records(_json_records(data, lines=suffix == ".jsonl"))
    elif suffix == ".csv":
        frame = _read_csv(data)
    elif suffix == ".xlsx":
        check_xlsx(data, limits)
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
        frame = pd.read_csv(io.StringIO(text), **_csv_options())
    except pd.errors.EmptyDataError as exc:
        raise ReadError("the file is empty") from exc
    except pd.errors.ParserError as exc:
        raise ReadError(f"malformed CSV: {_parser_position(exc)}") from exc
    return frame.astype(object)  # empty cells stay "", the parser reads them as missing


_POSITION = re.compile(r"(?:Expected \d+ fields in line \d+, saw \d+|line \d+|row \d+)")


def _parser_position(exc: Exception) -> str:
    """Where the CSV parser stopped, without the rest of its message (which may quote a
    value)."""
    found = _POSITION.search(str(exc))
    return found.group(0) if found else "the parser could not split it into fields"


def _csv_options() -> dict[str, Any]:
    return {
        "dtype": str,
        "keep_default_na": False,
        "na_filter": False,
        "skip_blank_lines": True,
        "engine": "c",
    }


def sniff_encoding(path: Path) -> str:
    """The encoding :func:`decode_text` would choose, found by streaming the file through an
    incremental decoder (constant memory): ``utf-8-sig``, else ``gb18030``."""
    with open(path, "rb") as handle:
        if b"\x00" in handle.read(65536):
            raise ReadError("binary content (NUL bytes): not a text file")
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        try:
            with open(path, "rb") as handle:
                while block := handle.read(4 * _MB):
                    decoder.decode(block)
                    offset += len(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            last = exc.start + offset
            continue
        return encoding
    raise ReadError(f"text is neither UTF-8 nor GB18030 (undecodable byte near offset {last})")


def iter_csv_frames(path: Path, *, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A CSV file ``chunk_rows`` records at a time, each an object frame indexed by the
    records' 1-based numbers in the file (so quarantine rows name the file's record)."""
    encoding = sniff_encoding(path)
    start = 1
    with open(path, encoding=encoding, newline="") as handle:
        try:
            reader = pd.read_csv(handle, chunksize=chunk_rows, **_csv_options())
            for frame in reader:
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame.astype(object)
        except pd.errors.EmptyDataError as exc:
            raise ReadError("the file is empty") from exc
        except pd.errors.ParserError as exc:
            raise ReadError(f"malformed CSV: {_parser_position(exc)}") from exc
    if start == 1:
        raise ReadError("the file holds a header but no records")


def iter_jsonl_frames(
    path: Path, *, chunk_rows: int, max_depth: int = DEFAULT_LIMITS.max_depth
) -> Iterator[pd.DataFrame]:
    """A JSON Lines file ``chunk_rows`` records at a time (see :func:`iter_csv_frames`)."""
    encoding = sniff_encoding(path)
    records: list[Any] = []
    start = 1
    with open(path, encoding=encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            check_json_depth(line.encode("utf-8"), max_depth)
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ReadError(f"invalid JSON Lines record on line {number}: {exc.msg}") from exc
            if len(records) >= chunk_rows:
                frame = frame_from_records(records)
                frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                records = []
                yield frame
    if records:
        frame = frame_from_records(records)
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield frame
    if start == 1:
        raise ReadError("the file is empty")


def _read_xlsx(data: bytes) -> pd.DataFrame:
    """First sheet of an XLSX file, read with calamine (a Rust reader, ~10x openpyxl)."""
    try:
        sheet = pd.read_excel(io.BytesIO(data), engine="calamine", header=None, dtype=object)
    except Exception as exc:  # the reader raises its own error types for non-spreadsheets
        # named by kind only: the reader's message may quote the sheet's content
        raise ReadError(f"not a readable XLSX spreadsheet ({type(exc).__name__})") from exc
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
