"""End to end: a small synthetic world, ingested, backtested (resumable) and evaluated by CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchtower.cli import app
from watchtower.config import Settings
from watchtower.evaluate import run_demo_evaluation


@pytest.mark.slow
def test_backtest_then_evaluate_a_synthetic_world(settings: Settings, tmp_path: Path) -> None:
    from watchtower import pipeline
    from watchtower.synth import write_world

    world = tmp_path / "world"
    write_world(world, managers=60, start=dt.date(2022, 1, 1), end=dt.date(2024, 6, 30), seed=3)
    pipeline.ingest(settings, world)
    runner = CliRunner()
    args = ["backtest", "--start", "2023-04-01", "--end", "2024-03-31", "--freq", "quarterly"]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    done = json.loads(first.stdout)
    assert len(done["ran"]) == 4 and done["skipped"] == []
    again = runner.invoke(app, args)  # resumable: nothing left to do
    assert again.exit_code == 0
    assert "0 computed" in again.stdout and "4 already done" in again.stdout

    out = runner.invoke(
        app, ["evaluate", "--truth", str(world / "_truth" / "scenarios.csv"), "--json"]
    )
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["days"] == 4 and summary["incidents"] > 0
    assert set(summary["headline"]) == {"watchtower", "rules_only", "iforest"}
    assert Path(summary["html_path"]).is_file()
    assert Path(summary["html_path"]).parent == settings.home / "reports"
    report = json.loads(Path(summary["json_path"]).read_text())
    assert report["methods"]["iforest"]["benign_outliers"]["benign_managers"] > 0

    # Labels from a file give the same incidents as the store's.
    by_file = runner.invoke(app, ["evaluate", "--labels", str(world), "--json"])
    assert json.loads(by_file.stdout)["incidents"] == summary["incidents"]

    lines = run_demo_evaluation(settings, truth=world)
    assert lines[0].startswith("Evaluation") and lines[-1].startswith("Report")


def test_cli_errors_are_readable(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["evaluate"])
    assert r.exit_code == 2 and "watchtower backtest" in r.output
    r = runner.invoke(app, ["evaluate", "--labels", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["backtest", "--start", "2024-01-01", "--end", "2024-01-10"])
    assert r.exit_code == 2 and "no monthly as-of day" in r.output
    r = runner.invoke(
        app, ["backtest", "--start", "2024-01-01", "--end", "2024-03-31", "--freq", "daily"]
    )
    assert r.exit_code == 2 and "weekly, monthly or quarterly" in r.output
