"""``watchtower demo``: the whole flow on a small synthetic world, in the embedded store."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from watchtower import pipeline
from watchtower.clock import Clock, SystemClock
from watchtower.config import Settings


@dataclass
class DemoSummary:
    landing_dir: Path
    db_url: str
    as_of: dt.date
    steps: list[tuple[str, float, str]] = field(default_factory=list)  # (step, seconds, what)
    digest_html: str | None = None


def run_demo(
    settings: Settings,
    *,
    managers: int = 300,
    start: dt.date = dt.date(2022, 1, 1),
    end: dt.date = dt.date(2024, 12, 31),
    seed: int = 2024,
    clock: Clock | None = None,
    echo: Callable[[str], None] = print,
) -> DemoSummary:
    """Synthesize a world, ingest it, and run every pipeline step as of ``end``.

    The landing folder is written anew under ``$WATCHTOWER_HOME/demo/landing``; the store is
    the configured one (by default the embedded SQLite file), so the CLI can explore it after.
    """
    from watchtower.synth import write_world

    clock = clock or SystemClock()
    landing = settings.home / "demo" / "landing"
    summary = DemoSummary(landing_dir=landing, db_url=settings.db_url, as_of=end)

    def step(name: str, work: Callable[[], str]) -> None:
        echo(f"· {name} ...")
        began = time.perf_counter()
        what = work()
        seconds = time.perf_counter() - began
        summary.steps.append((name, seconds, what))
        echo(f"  {what} ({seconds:.1f} s)")

    def synth() -> str:
        if landing.exists():
            shutil.rmtree(landing)
        world = write_world(landing, managers=managers, start=start, end=end, seed=seed)
        per = ", ".join(
            f"{k} {world.rows[k]} rows/{world.files_by_source.get(k, 0)} files" for k in world.rows
        )
        return (
            f"{world.managers} managers, {world.funds} funds, {world.files} files ({per}); "
            f"{world.incidents} incidents planted, {world.deregistrations} deregistrations "
            f"({world.voluntary_exits} voluntary) -> {landing}"
        )

    def ingest() -> str:
        # the demo wrote these files itself, whole, a moment ago: no settle time to wait out
        s = pipeline.ingest(replace(settings, landing_settle_seconds=0), landing, clock=clock)
        return (
            f"{s.files} files in {s.batches} batches: {s.files_loaded} loaded, "
            f"{s.files_skipped} already known, {s.files_failed} failed, {s.files_rejected} "
            f"rejected; rows read {s.rows_read}: loaded {s.rows_loaded} (flagged "
            f"{s.rows_flagged}), quarantined {s.rows_quarantined}, rejected {s.rows_rejected}; "
            f"{s.change_events} change events derived"
        )

    def evaluate() -> str:
        from watchtower.evaluate import evaluation_summary_lines

        lines = evaluation_summary_lines(
            settings,
            truth=landing / "_truth" / "scenarios.csv",
            start=start + dt.timedelta(days=180),
            end=end,
            backtest_freq="quarterly",
            clock=clock,
        )
        for line in lines[:-1]:
            echo("  " + line)
        return lines[-1]

    def alerts() -> str:
        from watchtower.digest.demo import demo_alerts

        result = demo_alerts(settings, end, clock=clock)
        summary.digest_html = result.html_path
        return result.describe()

    step("synthesize a landing folder", synth)
    step("ingest into the point-in-time store (with the data-quality gate)", ingest)
    step("backtest quarterly (features, scores, tiers) and evaluate against baselines", evaluate)
    step("warn and render digests", alerts)
    return summary
