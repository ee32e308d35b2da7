"""Tell what a landing file holds from its shape, and split files that hold several lists.

Real crawls do not come sorted into ``managers/`` and ``funds/`` folders: a crawler saves
``pof_manager_query_shaanxi_office.json`` or a whole daily bundle with several lists in one
JSON document, and a detail page is an HTML file. So the source of a batch is told by its
headers (the record keys or the CSV header): the source whose identity fields are present and
whose fields the headers match best. The folder or file name is only a hint, used to break
ties (an ``events`` and an ``incidents`` file share 登记编号 and 事件日期).

A JSON document that is neither a record list nor an AMAC page envelope is a bundle: each list
of records inside it (up to three levels deep) is one part, ingested as its own batch with its
own source.

Large CSV and JSON Lines files are streamed (:func:`stream_parts`): each chunk of records is a
part of its own (``chunk`` names its records, e.g. ``rows 50001-100000``), so validation and
insert run per chunk and memory stays bounded; the source is told once, from the header.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from watchtower.contract import FIELDS, IDENTITY, SOURCES, Source, header_lookup, normalize_header
from watchtower.ingest.aliases import Aliases
from watchtower.ingest.details import flatten_crawler_detail, parse_detail_html
from watchtower.ingest.readers import (
    DEFAULT_LIMITS,
    ReadError,
    ReadLimits,
    check_json_depth,
    decode_text,
    frame_from_records,
    iter_csv_frames,
    iter_jsonl_frames,
    read_raw,
    safe_header,
)

__all__ = ["Part", "check_size", "read_parts", "recognise", "stream_parts", "streams"]

#: Nested record keys whose contents are the record's own fields (a crawler's parse of a detail
#: page, a deregistration's detail).
_NESTED = ("parsed_detail", "detail")
_BUNDLE_DEPTH = 3


@dataclass(frozen=True)
class Part:
    """One batch's worth of a landing file: ``key`` names the list inside a bundle (None for
    the whole file), ``source`` is what its shape says (None: nothing recognisable)."""

    key: str | None
    raw: pd.DataFrame
    source: Source | None
    #: the records of a streamed file this part holds (``rows 1-50000``); None: all of them
    chunk: str | None = None


_STREAMED = (".csv", ".jsonl")
_MB = 1024 * 1024


def check_size(path: Path, size: int, limits: ReadLimits = DEFAULT_LIMITS) -> None:
    """Refuse a file above the hard limit, or a format that is read whole (a JSON document,
    XLSX, HTML) above the limit for those."""
    if size > limits.max_file_bytes:
        raise ReadError(
            f"the file is {size // _MB} MB, above the {limits.max_file_bytes // _MB} MB limit"
        )
    if not streams(path, size, limits) and size > limits.max_document_bytes:
        raise ReadError(
            f"the file is {size // _MB} MB, above the {limits.max_document_bytes // _MB} MB "
            "limit for a format read whole: deliver it as CSV or JSON Lines, which are streamed"
        )


def streams(path: Path, size: int, limits: ReadLimits = DEFAULT_LIMITS) -> bool:
    """Whether ``path`` is read in chunks (:func:`stream_parts`) rather than whole."""
    return path.suffix.lower() in _STREAMED and size > limits.stream_above_bytes


def stream_parts(
    path: Path,
    *,
    hint: Source | None,
    aliases: Aliases | None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[Part]:
    """A large CSV or JSON Lines file, ``limits.chunk_rows`` records per part; the source is
    told from the first chunk's headers and holds for the file."""
    if path.suffix.lower() == ".csv":
        frames = iter_csv_frames(path, chunk_rows=limits.chunk_rows)
    else:
        frames = (
            _flatten_frame(f)
            for f in iter_jsonl_frames(
                path, chunk_rows=limits.chunk_rows, max_depth=limits.max_depth
            )
        )
    source: Source | None = None
    for number, frame in enumerate(frames):
        if number == 0:
            source = recognise([str(c) for c in frame.columns], hint=hint, aliases=aliases)
        first, last = int(frame.index[0]), int(frame.index[-1])
        yield Part(None, frame, source, chunk=f"rows {first}-{last}")


def read_parts(
    path: Path,
    data: bytes,
    *,
    hint: Source | None,
    aliases: Aliases | None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> list[Part]:
    """The parts of one landing file, each with the source its shape tells."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return [_html_part(data)]
    if suffix in (".json", ".jsonl"):
        check_json_depth(data, limits.max_depth)  # before anything recurses into it
    if suffix == ".json":
        doc = _json_document(data)  # parsed once; read_raw only reports what this cannot read
        if isinstance(doc, dict) and not isinstance(doc.get("content"), list):
            lists = list(_record_lists(doc, prefix="", depth=0))
            if lists:
                return [
                    _part(key, frame_from_records(_flatten(records)), hint=None, aliases=aliases)
                    for key, records in lists
                ]
        records = doc["content"] if isinstance(doc, dict) else doc
        if isinstance(records, list) and records:
            frame = frame_from_records(_flatten(records))
            return [_part(None, frame, hint=hint, aliases=aliases)]
    raw = read_raw(path, data, limits=limits)
    if suffix == ".jsonl":
        raw = _flatten_frame(raw)
    return [_part(None, raw, hint=hint, aliases=aliases)]


def _json_document(data: bytes) -> Any:
    try:
        return json.loads(decode_text(data))
    except (ValueError, RecursionError):
        return None  # read_raw reports it (JSON Lines, or the parse error with its position)


def _record_lists(doc: dict[str, Any], *, prefix: str, depth: int) -> Any:
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(value.get("content"), list):
            value = value["content"]  # an API page kept inside a bundle
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield name, value
        elif isinstance(value, dict) and depth + 1 < _BUNDLE_DEPTH:
            yield from _record_lists(value, prefix=f"{name}.", depth=depth + 1)


def _flatten(records: list[Any]) -> list[Any]:
    """Records with a crawler's nested detail parse merged in (``flatten_crawler_detail``);
    a record that is not an object is kept as it is (and quarantined downstream)."""
    return [
        flatten_crawler_detail(r)
        if isinstance(r, dict) and any(isinstance(r.get(k), dict) for k in _NESTED)
        else r
        for r in records
    ]


def _flatten_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The same for JSON Lines, whose reader has already turned nested values into text."""
    nested = [c for c in _NESTED if c in raw.columns]
    if not nested:
        return raw
    records = []
    for row in raw.to_dict("records"):
        for key in nested:
            text = row.get(key)
            if isinstance(text, str) and text.startswith("{"):
                with contextlib.suppress(ValueError):
                    row[key] = json.loads(text)
        records.append(row)
    frame = frame_from_records(_flatten(records))
    frame.index = raw.index
    return frame


def _html_part(data: bytes) -> Part:
    try:
        source, record = parse_detail_html(decode_text(data))  # composites already split
    except ValueError as exc:
        raise ReadError(f"not an AMAC detail page: {exc}") from exc
    frame = frame_from_records([record])
    frame.index = pd.RangeIndex(1, 2)
    return Part(None, frame, source)


def _part(
    key: str | None, raw: pd.DataFrame, *, hint: Source | None, aliases: Aliases | None
) -> Part:
    if raw.empty:
        raise ReadError(f"{safe_header(key) if key else 'the file'} holds no records")
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    source = recognise([str(c) for c in raw.columns], hint=hint, aliases=aliases)
    return Part(key, raw, source)


def recognise(headers: list[str], *, hint: Source | None, aliases: Aliases | None) -> Source | None:
    """The source a header set belongs to.

    Candidates are the sources whose identity fields (contract ``IDENTITY``) are among the
    headers. Among them the hint wins when it is one; else the source matching most headers,
    counting a header that only one source knows double. No candidate: the hint (so that a
    file in ``managers/`` without 登记编号 is rejected as a structural fault, its rows counted),
    else None.
    """
    keys = [normalize_header(h)[0] for h in headers]
    lookups = {s: header_lookup(s, aliases) for s in SOURCES}
    owners: dict[str, int] = {}
    for key in set(keys):
        owners[key] = sum(key in lookups[s] for s in SOURCES)
    scores: dict[Source, float] = {}
    for source in SOURCES:
        lookup = lookups[source]
        matched = {lookup[k].name for k in keys if k in lookup}
        if not matched & set(IDENTITY[source]):
            continue
        required = {f.name for f in FIELDS[source] if f.required}
        if not required <= matched:
            continue
        scores[source] = sum((2.0 if owners[k] == 1 else 1.0) for k in set(keys) if k in lookup)
    if not scores:
        return hint
    if hint in scores:
        return hint
    return max(scores, key=lambda s: (scores[s], -SOURCES.index(s)))
