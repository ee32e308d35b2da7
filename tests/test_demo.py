"""``watchtower demo`` end to end on a small world: every step runs and says what it did."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchtower.cli import app


@pytest.mark.slow
def test_demo_runs_the_whole_flow_and_points_at_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHTOWER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    result = CliRunner().invoke(
        app,
        ["demo", "--managers", "80", "--start", "2023-01-01", "--end", "2024-12-31", "--seed", "5"],
    )
    out = result.output
    assert result.exit_code == 0, out
    for step in ("synthesize", "ingest", "backtest", "warn and render digests"):
        assert step in out
    assert "Evaluation 评估" in out and "evaluation skipped" not in out
    assert "AUC-ROC" in out and "Rules only" in out and "IForest" in out
    digest = next(line for line in out.splitlines() if line.startswith("Open a digest: "))
    html = Path(digest.removeprefix("Open a digest: "))
    assert html.is_file() and "<html" in html.read_text(encoding="utf-8").lower()
    assert (tmp_path / "home" / "watchtower.db").is_file()
    # Running it again reuses the store: files already loaded are skipped, days already done too.
    again = CliRunner().invoke(
        app,
        ["demo", "--managers", "80", "--start", "2023-01-01", "--end", "2024-12-31", "--seed", "5"],
    )
    assert again.exit_code == 0, again.output
    assert "0 loaded" in again.output and "already done" in again.output
    assert dt.date(2024, 12, 31).isoformat() in again.output
