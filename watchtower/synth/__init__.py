"""Synthetic world generator: a landing folder in the data contract, with planted risk.

``write_world`` draws a population of private fund managers and their funds, plants risky
trajectories (run-off, lost contact, illegal fundraising, enforcement, shell), benign
outliers and deregistrations, and writes everything as a supervisor receives it: the public
feed in AMAC's own shapes (list pages in the page envelope, detail pages as HTML or as a
crawler's parsed JSON, deregistrations; ``_public``) and the supervisor's own feeds (GB18030
and UTF-8 CSV, XLSX, JSON Lines), plus a ground-truth sidecar in ``_truth/`` that ingestion
skips. Same arguments, same bytes. See ``docs/synthetic-world.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from watchtower.contract import SOURCES, Source
from watchtower.synth._calendar import NEVER, DateFormatter, day_of, quarter_ends_between
from watchtower.synth._formats import (
    _FALLBACK,
    CSV_MAX_ROWS,
    ROTATION,
    XLSX_MAX_ROWS,
    Defect,
    Style,
    plant_defects,
    render,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from watchtower.synth._public import write_public
from watchtower.synth._scenarios import plant_all, plant_exits
from watchtower.synth._tables import (
    Batch,
    event_batches,
    incident_batches,
    manager_batches,
    report_batches,
    truth_frame,
)
from watchtower.synth._world import BENIGN, EXTRA_BENIGN, RISKY, World, build_world, simulate
from watchtower.synth.families import DEVELOPMENT, FAMILIES, WorldFamily, world_family

__all__ = [
    "BENIGN",
    "DEVELOPMENT",
    "EXTRA_BENIGN",
    "FAMILIES",
    "RISKY",
    "SynthSummary",
    "WorldFamily",
    "available_memory",
    "check_world_size",
    "world_family",
    "world_memory",
    "write_world",
]

TRUTH_DIR = "_truth"

# Peak memory of write_world, fitted on measured worlds (ru_maxrss, seed 1): 1,000 and
# 4,000 managers over 36 months took 252 and 609 MB, 2,000 over 12 and 108 months 263 and
# 622 MB; about 44 KB per manager plus 1.9 KB per manager-month over 130 MB. Rounded up
# (~10-20 % over every measurement) so a world that passes the check fits.
_BASE_BYTES = 150 * 2**20
_PER_MANAGER = 50 * 2**10
_PER_MANAGER_MONTH = int(2.2 * 2**10)


def _months(start: dt.date, end: dt.date) -> int:
    return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)


def world_memory(managers: int, start: dt.date, end: dt.date) -> int:
    """Estimated peak bytes :func:`write_world` needs for this world."""
    per_manager = _PER_MANAGER + _PER_MANAGER_MONTH * _months(start, end)
    return _BASE_BYTES + managers * per_manager


def available_memory() -> int | None:
    """Bytes this process may use: physical memory, or less under a cgroup (container)
    limit; None when neither can be read."""
    limits = []
    with contextlib.suppress(OSError, ValueError, AttributeError):  # not on every OS
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    for name in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" or a huge number: no limit
            limits.append(int(text))
    return min(limits) if limits else None


def check_world_size(
    managers: int, start: dt.date, end: dt.date, available: int | None = None
) -> None:
    """Refuse (ValueError) a world that would not fit in ``available`` bytes (default:
    :func:`available_memory`), saying the largest number of managers that fits."""
    available = available if available is not None else available_memory()
    if available is None:
        return
    need = world_memory(managers, start, end)
    if need <= available:
        return
    per = world_memory(1, start, end) - _BASE_BYTES
    fits = max(0, (available - _BASE_BYTES) // per)
    raise ValueError(
        f"{managers:,} managers over {_months(start, end)} months need about "
        f"{need / 2**30:,.1f} GB, this machine has {available / 2**30:,.1f} GB: at most "
        f"{fits:,} managers fit over that window"
    )


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`write_world` wrote. ``rows`` counts data rows per source (defects included),
    ``files_by_source`` the files; ``deregistrations`` the 注销 in the window (forced and
    voluntary)."""

    out_dir: Path
    managers: int
    funds: int
    files: int
    rows: dict[str, int]
    incidents: int
    benign_outliers: int
    files_by_source: dict[str, int] = field(default_factory=dict)
    deregistrations: int = 0
    voluntary_exits: int = 0
    family: str = DEVELOPMENT.name


def write_world(
    out_dir: Path,
    *,
    managers: int,
    start: dt.date,
    end: dt.date,
    seed: int,
    family: WorldFamily | str = DEVELOPMENT,
    progress: Callable[[str], None] | None = None,
) -> SynthSummary:
    """Generate a synthetic landing folder under ``out_dir``.

    ``managers`` private fund managers (about 6 funds each) are simulated from ``start`` to
    ``end``: quarterly manager, fund and deregistration list pages in dated folders (the
    folder's date is the snapshot date), manager and fund detail pages in June and December,
    the supervisor's manager export in December, monthly / quarterly / annual reports in
    monthly extraction files, quarterly event files and yearly incident files; money in 万元
    unless a header says 元. ``_truth/scenarios.csv`` holds the
    planted scenario of every manager, ``_truth/defects.csv`` the planted data-quality
    defects, ``_truth/family.json`` the world family drawn (``family``: a
    :class:`WorldFamily` or its name in :data:`FAMILIES`; the development family by default,
    whose worlds are the same bytes as before families existed). Deterministic in (managers,
    start, end, seed, family); never reads the clock. Refuses (ValueError) a world larger
    than the machine's memory holds, or an unknown family.
    """
    preset = world_family(family) if isinstance(family, str) else family
    if managers < 1:
        raise ValueError("managers must be at least 1")
    if end <= start:
        raise ValueError("end must be after start")
    if not quarter_ends_between(start, end):
        raise ValueError("the window must contain at least one quarter end (snapshot date)")
    check_world_size(managers, start, end)
    say = progress or (lambda _msg: None)
    w = build_world(managers, start, end, seed, preset)
    say(f"world ({preset.name}): {w.n} managers, {w.f_mgr.size} funds, {w.pe.size} months")
    plant_all(w)
    simulate(w)
    plant_exits(w, np.random.default_rng([seed, 4099]))
    say(
        f"planted: {int(np.isin(w.sc, RISKY).sum())} risky, "
        f"{int(np.isin(w.sc, BENIGN + EXTRA_BENIGN).sum())} benign outliers, "
        f"{len(w.events)} events, "
        f"{len(w.exits)} deregistrations"
    )

    out_dir = Path(out_dir)
    for src in SOURCES:
        (out_dir / src).mkdir(parents=True, exist_ok=True)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    fmt = DateFormatter(day_of(dt.date(1990, 1, 1)), w.end + 800)
    defect_rng = np.random.default_rng([seed, 7919])
    writer = _Writer(out_dir, fmt, defect_rng)

    public = write_public(w, out_dir, np.random.default_rng([seed, 6151]))
    for src in SOURCES:
        writer.rows[src] += public.rows.get(src, 0)
        writer.files[src] += public.files.get(src, 0)
    writer.defects.extend(public.defects)
    say(
        "public feed: "
        + ", ".join(
            f"{s} {public.rows.get(s, 0)} rows in {public.files.get(s, 0)} files"
            for s in SOURCES
            if public.files.get(s)
        )
    )
    # (source, the family's name for the feed, its builder): a family may omit a feed
    builders: tuple[tuple[Source, str, Callable[[], list[Batch]]], ...] = (
        ("managers", "manager_export", lambda: manager_batches(w, _export_snapshots(w))),
        ("reports", "reports", lambda: report_batches(w)),
        ("events", "events", lambda: event_batches(w)),
        ("incidents", "incidents", lambda: incident_batches(w)),
    )
    for src, feed, build in builders:
        if feed in preset.omit:
            say(f"{src}: not delivered in family {preset.name} ({feed} omitted)")
            continue
        batches = build()
        for k, batch in enumerate(batches):
            writer.write(src, batch, ROTATION[src][k % len(ROTATION[src])])
        say(f"{src}: {writer.rows[src]} rows in {writer.files[src]} files")

    truth = truth_frame(w, _iso_or_empty)
    truth.to_csv(
        out_dir / TRUTH_DIR / "scenarios.csv", index=False, encoding="utf-8", lineterminator="\n"
    )
    pd.DataFrame(
        [(d.file, d.row, d.field, d.kind, d.register_no) for d in writer.defects],
        columns=["file", "row", "field", "kind", "register_no"],
    ).to_csv(
        out_dir / TRUTH_DIR / "defects.csv", index=False, encoding="utf-8", lineterminator="\n"
    )
    record = {"family": preset.as_dict(), "seed": seed, "managers": managers}
    record |= {"start": str(start), "end": str(end)}
    (out_dir / TRUTH_DIR / "family.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    say(f"truth: {len(truth)} managers, {len(writer.defects)} planted defects")
    return SynthSummary(
        out_dir=out_dir,
        managers=w.n,
        funds=int(w.f_mgr.size),
        files=sum(writer.files.values()),
        rows=dict(writer.rows),
        incidents=writer.rows["incidents"],
        benign_outliers=int(np.isin(w.sc, BENIGN + EXTRA_BENIGN).sum()),
        files_by_source=dict(writer.files),
        deregistrations=len(w.exits),
        voluntary_exits=sum(e.reason == "voluntary" for e in w.exits),
        family=preset.name,
    )


def _export_snapshots(w: World) -> list[int]:
    """Snapshots of the supervisor's own manager export: the December ones (else the last)."""
    months = w.snaps.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    qs = [q for q in range(w.snaps.size) if months[q] == 12]
    return qs or [w.snaps.size - 1]


def _iso_or_empty(day: int) -> str:
    return "" if day >= NEVER else str(np.datetime64(day, "D"))


class _Writer:
    """Writes batches in their rotation style, splitting big ones, planting defects."""

    def __init__(self, out_dir: Path, fmt: DateFormatter, rng: np.random.Generator) -> None:
        self.out_dir = out_dir
        self.fmt = fmt
        self.rng = rng
        self.rows: dict[str, int] = {s: 0 for s in SOURCES}
        self.files: dict[str, int] = {s: 0 for s in SOURCES}
        self.defects: list[Defect] = []

    def write(self, src: Source, batch: Batch, style: Style) -> None:
        frame = batch.frame
        if style.container == "xlsx" and len(frame) > XLSX_MAX_ROWS:
            style = _FALLBACK
        size = CSV_MAX_ROWS
        n_chunks = max(1, -(-len(frame) // size))
        stem = f"{src}_{_iso_or_empty(batch.file_date)}"
        for i in range(n_chunks):
            chunk = frame.iloc[i * size : (i + 1) * size].reset_index(drop=True)
            suffix = f"_p{i + 1}" if n_chunks > 1 else ""
            rel = f"{src}/{stem}{suffix}.{style.ext}"
            out = render(chunk, src, style, self.fmt)
            out, defects = plant_defects(out, src, style, self.rng, rel)
            path = self.out_dir / rel
            if style.container == "jsonl":
                write_jsonl(out, path)
            elif style.container == "xlsx":
                write_xlsx(out, path, src)
            else:
                write_csv(out, path, style.encoding)
            self.defects.extend(defects)
            self.rows[src] += len(out)
            self.files[src] += 1
