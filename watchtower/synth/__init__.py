"""Synthetic world generator: a landing folder in the data contract, with planted risk.

``write_world`` draws a population of private fund managers and their funds, plants risky
trajectories (run-off, lost contact, illegal fundraising, enforcement, shell) and benign
outliers, and writes everything as the mixed files a supervisor receives (AMAC API pages,
GB18030 and UTF-8 CSV, XLSX, JSON Lines) plus a ground-truth sidecar in ``_truth/`` that
ingestion skips. Same arguments, same bytes. See ``docs/synthetic-world.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from watchtower.contract import SOURCES, Source
from watchtower.synth._calendar import NEVER, DateFormatter, day_of, quarter_ends_between
from watchtower.synth._formats import (
    _FALLBACK,
    API_PAGE_ROWS,
    CSV_MAX_ROWS,
    ROTATION,
    XLSX_MAX_ROWS,
    Defect,
    Style,
    plant_defects,
    render,
    write_api,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from watchtower.synth._scenarios import plant_all
from watchtower.synth._tables import (
    Batch,
    event_batches,
    fund_batches,
    incident_batches,
    manager_batches,
    report_batches,
    truth_frame,
)
from watchtower.synth._world import BENIGN, RISKY, build_world, simulate

__all__ = ["BENIGN", "RISKY", "SynthSummary", "write_world"]

TRUTH_DIR = "_truth"


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`write_world` wrote. ``rows`` counts data rows per source (defects included)."""

    out_dir: Path
    managers: int
    funds: int
    files: int
    rows: dict[str, int]
    incidents: int
    benign_outliers: int


def write_world(
    out_dir: Path,
    *,
    managers: int,
    start: dt.date,
    end: dt.date,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> SynthSummary:
    """Generate a synthetic landing folder under ``out_dir``.

    ``managers`` private fund managers (about 6 funds each) are simulated from ``start`` to
    ``end``: quarterly manager and fund snapshots (snapshotDate = quarter end), monthly /
    quarterly / annual reports in monthly extraction files, quarterly event files and yearly
    incident files; money in 万元 unless a header says 元. ``_truth/scenarios.csv`` holds the
    planted scenario of every manager, ``_truth/defects.csv`` the planted data-quality
    defects. Deterministic in (managers, start, end, seed); never reads the clock.
    """
    if managers < 1:
        raise ValueError("managers must be at least 1")
    if end <= start:
        raise ValueError("end must be after start")
    if not quarter_ends_between(start, end):
        raise ValueError("the window must contain at least one quarter end (snapshot date)")
    say = progress or (lambda _msg: None)
    w = build_world(managers, start, end, seed)
    say(f"world: {w.n} managers, {w.f_mgr.size} funds, {w.pe.size} months")
    plant_all(w)
    simulate(w)
    say(
        f"planted: {int(np.isin(w.sc, RISKY).sum())} risky, "
        f"{int(np.isin(w.sc, BENIGN).sum())} benign outliers, {len(w.events)} events"
    )

    out_dir = Path(out_dir)
    for src in SOURCES:
        (out_dir / src).mkdir(parents=True, exist_ok=True)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    fmt = DateFormatter(day_of(dt.date(1990, 1, 1)), w.end + 800)
    defect_rng = np.random.default_rng([seed, 7919])
    writer = _Writer(out_dir, fmt, defect_rng)

    builders: tuple[tuple[Source, Callable[[], list[Batch]]], ...] = (
        ("managers", lambda: manager_batches(w)),
        ("funds", lambda: fund_batches(w)),
        ("reports", lambda: report_batches(w)),
        ("events", lambda: event_batches(w)),
        ("incidents", lambda: incident_batches(w)),
    )
    for src, build in builders:
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
    say(f"truth: {len(truth)} managers, {len(writer.defects)} planted defects")
    return SynthSummary(
        out_dir=out_dir,
        managers=w.n,
        funds=int(w.f_mgr.size),
        files=sum(writer.files.values()),
        rows=dict(writer.rows),
        incidents=writer.rows["incidents"],
        benign_outliers=int(np.isin(w.sc, BENIGN).sum()),
    )


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
        size = API_PAGE_ROWS if style.container == "api" else CSV_MAX_ROWS
        n_chunks = max(1, -(-len(frame) // size))
        stem = f"{src}_{_iso_or_empty(batch.file_date)}"
        for i in range(n_chunks):
            chunk = frame.iloc[i * size : (i + 1) * size].reset_index(drop=True)
            suffix = f"_p{i + 1}" if n_chunks > 1 else ""
            rel = f"{src}/{stem}{suffix}.{style.ext}"
            out = render(chunk, src, style, self.fmt)
            out, defects = plant_defects(out, src, style, self.rng, rel)
            path = self.out_dir / rel
            if style.container == "api":
                write_api(out, path, i, n_chunks, len(frame))
            elif style.container == "jsonl":
                write_jsonl(out, path)
            elif style.container == "xlsx":
                write_xlsx(out, path, src)
            else:
                write_csv(out, path, style.encoding)
            self.defects.extend(defects)
            self.rows[src] += len(out)
            self.files[src] += 1
