"""``watchtower synth`` writes a world that ``watchtower ingest`` loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchtower.cli import app

ARGS = ["--managers", "20", "--start", "2024-01-01", "--end", "2024-06-30", "--seed", "3"]


def test_synth_writes_the_contract_folder_and_refuses_a_non_empty_one(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    result = CliRunner().invoke(app, ["synth", str(out), *ARGS, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["managers"] == 20 and summary["files"] > 0
    for source in ("managers", "manager_details", "funds", "fund_details", "reports"):
        assert any((out / source).iterdir())
        assert summary["files_by_source"][source] > 0
    assert (out / "_truth" / "scenarios.csv").is_file()

    again = CliRunner().invoke(app, ["synth", str(out), *ARGS])
    assert again.exit_code == 2 and "not empty" in again.output
    bad = CliRunner().invoke(
        app, ["synth", str(tmp_path / "x"), "--start", "2024-06-30", "--end", "2024-01-01"]
    )
    assert bad.exit_code == 2 and "must be after" in bad.output


def test_synth_then_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHTOWER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    out = tmp_path / "landing"
    assert CliRunner().invoke(app, ["synth", str(out), *ARGS]).exit_code == 0
    result = CliRunner().invoke(app, ["ingest", str(out), "--json", "--quiet"])
    summary = json.loads(result.stdout)
    assert summary["files_failed"] == 0 and summary["files_rejected"] == 0
    assert summary["rows_loaded"] > 0
    for r in summary["results"]:
        assert r["rows_read"] == r["rows_loaded"] + r["rows_quarantined"] + r["rows_rejected"]
