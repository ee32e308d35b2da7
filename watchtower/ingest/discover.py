"""Find landing files; guess their source and date from the folder and file name.

The source found here is a hint: the file's shape decides (``watchtower.ingest.shapes``).
The date is the file name's, else the nearest folder's (a crawl saved as
``2026-05-20/pof_manager_query.json``), else None (the ingest date stands in).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from watchtower.contract import SOURCES, Source

SUPPORTED_SUFFIXES = (".json", ".jsonl", ".csv", ".xlsx", ".html", ".htm")

_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})(?:[-_.]?(\d{2}))?(?!\d)")
_QUARTER_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_]?Q([1-4])(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source: Source | None  # None: the source could not be told from folder or name
    file_date: dt.date | None


#: Words in a crawler's file name that hint at the source, most specific first.
_NAME_HINTS: tuple[tuple[str, Source], ...] = (
    ("cancel", "cancellations"),
    ("manager_detail", "manager_details"),
    ("fund_detail", "fund_details"),
    ("incident", "incidents"),
    ("event", "events"),
    ("report", "reports"),
    ("manager", "managers"),
    ("fund", "funds"),
)


def source_of(path: Path, root: Path) -> Source | None:
    """The sub-folder's name, else the file name's prefix (``managers_2024-06-30.json``),
    else a word in the name (``pof_manager_query.json``). Only a hint: the shape decides."""
    rel = path.relative_to(root)
    for part in reversed(rel.parts[:-1]):
        if part.lower() in SOURCES:
            return part.lower()  # type: ignore[return-value]
    stem = path.name.lower()
    for source in sorted(SOURCES, key=len, reverse=True):
        if stem.startswith(source):
            return source
    for word, source in _NAME_HINTS:
        if word in stem:
            return source
    return None


def date_of(name: str) -> dt.date | None:
    """Date in a file name: ``2024-06-30``, ``20240630``, ``2024-07`` (month end), ``2024Q2``
    (quarter end). None when the name holds no date."""
    quarter = _QUARTER_IN_NAME.search(name)
    if quarter:
        year, q = int(quarter.group(1)), int(quarter.group(2))
        return _month_end(year, 3 * q)
    for match in _DATE_IN_NAME.finditer(name):
        year, month = int(match.group(1)), int(match.group(2))
        if not (1900 < year < 2200 and 1 <= month <= 12):
            continue
        if match.group(3):
            try:
                return dt.date(year, month, int(match.group(3)))
            except ValueError:
                continue
        return _month_end(year, month)
    return None


def _month_end(year: int, month: int) -> dt.date:
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def discover(root: Path) -> list[LandingFile]:
    """Every candidate file under ``root``, sorted by source order, date, then path.

    Hidden files and folders starting with ``.`` or ``_`` (e.g. a synthetic world's ``_truth``)
    are not landing data and are passed over.
    """
    found: list[LandingFile] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts) or not path.is_file():
            continue
        when = date_of(path.name)
        for folder in reversed(rel.parts[:-1]):
            when = when or date_of(folder)
        found.append(LandingFile(path, source_of(path, root), when))
    order: dict[str | None, int] = {s: i for i, s in enumerate(SOURCES)}
    # Snapshot date, then receipt (the file's modification time: when it landed), and the
    # name only last: a correction that lands after its original is applied after it, whatever
    # the names' order.
    return sorted(
        found,
        key=lambda f: (
            order.get(f.source, len(order)),
            f.file_date or dt.date.min,
            _landed_ns(f.path),
            str(f.path),
        ),
    )


def _landed_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
