"""Find landing files; guess their source and date from the folder and file name.

The source found here is a hint: the file's shape decides (``watchtower.ingest.shapes``).
The date is the file name's, else the nearest folder's (a crawl saved as
``2026-05-20/pof_manager_query.json``), else None (the ingest date stands in).

The landing protocol (docs/data-quality.md, "Landing protocol and file limits") is decided
here, by :func:`readiness` (a pure function) applied in :func:`scan`:

- names starting with ``.`` or ``_`` and partial names (``.part``, ``.partial``, ``.tmp``,
  ``.temp``, ``.crdownload``, ``.download``, ``.filepart``) are never landing data: a writer
  writes under such a name and renames when done (the fetcher does);
- a file is ready when a sibling marker ``<name>.done`` exists, or when it has not been
  modified for ``settle_seconds`` by the wall clock; else it is *waiting*: not read, not
  recorded, picked up by a later run;
- symlinks leading outside the landing folder (to a file or a folder) and anything that is
  not a regular file are *refused*, never read; a folder symlink inside it is not followed
  (what it points to is read where it lies), a file symlink inside it is read.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from watchtower.clock import month_end
from watchtower.contract import SOURCES, Source

SUPPORTED_SUFFIXES = (".json", ".jsonl", ".csv", ".xlsx", ".html", ".htm")

_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_.]?(\d{2})(?:[-_.]?(\d{2}))?(?!\d)")
_QUARTER_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_]?Q([1-4])(?!\d)", re.IGNORECASE)


__all__ = [
    "MARKER_SUFFIX",
    "PARTIAL_SUFFIXES",
    "LandingFile",
    "LandingScan",
    "Passed",
    "date_of",
    "discover",
    "inside",
    "readiness",
    "scan",
    "source_of",
]

#: Suffixes of files still being written (browsers, sftp clients, rsync --partial, our own).
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".filepart")
#: ``<name>.done`` next to a file says the file is complete.
MARKER_SUFFIX = ".done"


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source: Source | None  # None: the source could not be told from folder or name
    file_date: dt.date | None
    #: size and modification time when discovered: a file that changed since is not read
    size: int | None = None
    mtime_ns: int | None = None
    #: the landing folder's real path: the file must still resolve inside it when read
    root: str | None = None


@dataclass(frozen=True)
class Passed:
    """A file a run does not read: ``why`` says so in one line."""

    path: Path
    why: str


@dataclass(frozen=True)
class LandingScan:
    """What a landing folder holds: files ready to read, files still being written
    (``waiting``), and entries refused (symlinks leading outside, non-regular files)."""

    files: list[LandingFile] = field(default_factory=list)
    waiting: list[Passed] = field(default_factory=list)
    refused: list[Passed] = field(default_factory=list)


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
        named = next((s for s in SOURCES if s == part.lower()), None)
        if named is not None:
            return named
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
        return month_end(year, 3 * q)
    for match in _DATE_IN_NAME.finditer(name):
        year, month = int(match.group(1)), int(match.group(2))
        if not (1900 < year < 2200 and 1 <= month <= 12):
            continue
        if match.group(3):
            try:
                return dt.date(year, month, int(match.group(3)))
            except ValueError:
                continue
        return month_end(year, month)
    return None


def readiness(
    *, age_seconds: float, marked: bool, settle_seconds: float
) -> tuple[bool, str | None]:
    """Whether a landing file is complete (ready, None) or still being written (False, why).

    ``age_seconds``: wall-clock time since its last modification (negative: modified in the
    future, a clock skew, which waits like a fresh file). ``marked``: ``<name>.done`` exists.
    """
    if marked or age_seconds >= settle_seconds:
        return True, None
    return False, (
        f"modified {max(age_seconds, 0):.0f} s ago, less than the {settle_seconds:g} s a file "
        f"must settle (or write {MARKER_SUFFIX} beside it): read by a later run"
    )


def inside(target: str, root: str) -> bool:
    """Whether the real path ``target`` lies in the real path ``root``."""
    return _inside(target, root)


def _inside(target: str, root: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def _passed_over(name: str) -> bool:
    lower = name.lower()
    return (
        name.startswith((".", "_"))
        or lower.endswith(PARTIAL_SUFFIXES)
        or lower.endswith(MARKER_SUFFIX)
    )


def _folders_to_walk(folder: Path, names: list[str], real_root: str, out: LandingScan) -> list[str]:
    """The subfolders to walk into: no hidden ones, no symlinks (one leading outside the
    landing folder is refused; one inside is walked where its target lies)."""
    kept = []
    for name in names:
        if name.startswith((".", "_")):
            continue
        entry = folder / name
        if entry.is_symlink():
            if not _inside(os.path.realpath(entry), real_root):
                out.refused.append(
                    Passed(entry, "a folder symlink leading outside the landing folder")
                )
            continue
        kept.append(name)
    return kept


def _regular_file(path: Path, real_root: str, out: LandingScan) -> os.stat_result | None:
    """The file's status, following a symlink that stays inside the landing folder; None
    (and the reason in ``out.refused``) for anything else."""
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if not _inside(os.path.realpath(path), real_root):
                out.refused.append(Passed(path, "a symlink leading outside the landing folder"))
                return None
            info = os.stat(path)
    except OSError:
        out.refused.append(Passed(path, "a symlink to nothing, or a file gone"))
        return None
    if not stat.S_ISREG(info.st_mode):
        out.refused.append(Passed(path, "not a regular file"))
        return None
    return info


def _settled(
    path: Path, info: os.stat_result, now: dt.datetime, settle_seconds: float, out: LandingScan
) -> bool:
    """Whether the file is ready to read (else it waits, with why, in ``out.waiting``)."""
    modified = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC).replace(tzinfo=None)
    ready, why = readiness(
        age_seconds=(now - modified).total_seconds(),
        marked=os.path.exists(f"{path}{MARKER_SUFFIX}"),
        settle_seconds=settle_seconds,
    )
    if not ready:
        out.waiting.append(Passed(path, why or "still being written"))
    return ready


def scan(root: Path, *, settle_seconds: float = 0.0, now: dt.datetime | None = None) -> LandingScan:
    """Every candidate file under ``root`` (see the module docstring), sorted by source order,
    snapshot date, landing time, then path.

    ``now``: the wall clock (naive UTC, as :class:`watchtower.clock.Clock` gives it); only
    needed when ``settle_seconds`` > 0. The walk never follows a folder symlink, so a link
    cannot lead it outside ``root`` or round in a loop.
    """
    if settle_seconds > 0 and now is None:
        raise ValueError("a settle time needs the wall clock's now")
    real_root = os.path.realpath(root)
    out = LandingScan()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        folder = Path(dirpath)
        dirnames[:] = _folders_to_walk(folder, sorted(dirnames), real_root, out)
        rel_folders = folder.relative_to(root).parts
        for name in sorted(filenames):
            if _passed_over(name):
                continue
            path = folder / name
            info = _regular_file(path, real_root, out)
            if info is None:
                continue
            if settle_seconds > 0:
                assert now is not None
                if not _settled(path, info, now, settle_seconds, out):
                    continue
            when = date_of(name)
            for part in reversed(rel_folders):
                when = when or date_of(part)
            out.files.append(
                LandingFile(
                    path, source_of(path, root), when, info.st_size, info.st_mtime_ns, real_root
                )
            )
    order: dict[str | None, int] = {s: i for i, s in enumerate(SOURCES)}
    # Snapshot date, then receipt (the file's modification time: when it landed), and the
    # name only last: a correction that lands after its original is applied after it, whatever
    # the names' order.
    out.files.sort(
        key=lambda f: (
            order.get(f.source, len(order)),
            f.file_date or dt.date.min,
            f.mtime_ns or 0,
            str(f.path),
        )
    )
    return out


def discover(root: Path) -> list[LandingFile]:
    """The files of :func:`scan` ready to read, without a settle time (every complete name
    counts; the scheduled ingest passes its settle time to :func:`scan`)."""
    return scan(root).files
