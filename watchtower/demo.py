"""``watchtower demo``: the whole flow on a small synthetic world, in the embedded store.

A caller of the step layer, like the CLI (which alone calls it): it runs ``watchtower.pipeline``
steps in order and reads what they left with the areas' read functions."""

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
from watchtower.digest import DEMO_RECIPIENT, DemoAlerts, top_lines


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
        from watchtower.evaluate import run_demo_evaluation

        lines = run_demo_evaluation(
            settings,
            truth=landing / "_truth" / "scenarios.csv",
            start=start + dt.timedelta(days=180),
            end=end,
            backtest_freq="quarterly",
            run_day=pipeline.backtest_day(settings, clock),
        )
        for line in lines[:-1]:
            echo("  " + line)
        return lines[-1]

    def alerts() -> str:
        result = demo_alerts(settings, end, clock=clock)
        summary.digest_html = result.html_path
        for line in top_lines(result.top):
            echo("  " + line)
        return result.describe()

    step("synthesize a landing folder", synth)
    step("ingest into the point-in-time store (with the data-quality gate)", ingest)
    step("backtest quarterly (features, scores, tiers) and evaluate against baselines", evaluate)
    step("warn and render digests", alerts)
    return summary


def demo_alerts(settings: Settings, as_of: dt.date, *, clock: Clock) -> DemoAlerts:
    """Run ``warn`` on every scored day up to ``as_of`` not warned yet (calendar order), then
    the subscribers' digests and one nation-wide digest to a demo address (so there is always
    one to open, whatever the synthetic world's provinces)."""
    from watchtower.digest import demo_digest_path
    from watchtower.store import open_store
    from watchtower.warn import days_to_warn, list_alerts, open_alerts_by_tier

    engine = open_store(settings.db_url)
    days = days_to_warn(engine, as_of)
    for day in days:
        pipeline.warn(settings, day, clock=clock)
    subs = pipeline.digest(settings, as_of, clock=clock)
    adhoc = pipeline.digest(settings, as_of, to=DEMO_RECIPIENT, clock=clock)
    paths = adhoc.html_paths or subs.html_paths
    with engine.connect() as conn:
        top = tuple(list_alerts(conn, limit=10))
    return DemoAlerts(
        warn_days=len(days),
        open_by_tier=open_alerts_by_tier(engine),
        digests=subs.rendered + adhoc.rendered,
        # nothing rendered now: queued by an earlier demo run, point at its file
        html_path=paths[0] if paths else demo_digest_path(settings.outbox_dir, as_of),
        top=top,
    )
