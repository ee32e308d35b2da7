"""The pipeline step and the ``watchtower features`` commands on a hand-made store."""

from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from tests.features.conftest import World
from tests.features.test_engine import AS_OF, build
from watchtower import pipeline
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.features import load_features

runner = CliRunner()


def test_step_computes_and_stores(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    build(World(engine))
    clock = FixedClock(dt.datetime(2024, 7, 2, 6))
    summary = pipeline.compute_features(settings, AS_OF, clock=clock)
    assert (summary.managers, summary.rows_stored, summary.as_of) == (4, 4, AS_OF)
    assert summary.features >= 30 and 0 < summary.filled <= 1
    assert pipeline.list_partitions(settings, AS_OF) == ["other", "pe_vc", "securities"]
    again = pipeline.compute_features(settings, AS_OF, "securities", clock=clock)
    assert (again.managers, again.partition) == (2, "securities")
    assert len(load_features(engine, AS_OF)) == 4


def test_cli_features_json(settings: Settings) -> None:
    build(World(open_store(settings.db_url)))
    result = runner.invoke(app, ["features", "--as-of", "2024-07-01", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["managers"] == 4 and out["rows_stored"] == 4 and out["as_of"] == "2024-07-01"
    text = runner.invoke(app, ["features", "--as-of", "2024-07-01", "--partition", "pe_vc"])
    assert text.exit_code == 0 and "1 managers" in text.stdout
    parts = runner.invoke(app, ["features", "partitions", "--as-of", "2024-07-01", "--json"])
    assert json.loads(parts.stdout) == ["other", "pe_vc", "securities"]


def test_cli_bad_partition_is_a_clear_error(settings: Settings) -> None:
    result = runner.invoke(app, ["features", "--as-of", "2024-07-01", "--partition", "hedge"])
    assert result.exit_code == 2
    assert "unknown partition 'hedge'" in result.output


def test_cli_catalog(settings: Settings) -> None:
    result = runner.invoke(app, ["features", "catalog"])
    assert result.exit_code == 0, result.output
    assert "实缴比例 / Paid-in ratio" in result.stdout
    assert "信息披露合规 / Disclosure compliance" in result.stdout
    as_json = json.loads(runner.invoke(app, ["features", "catalog", "--json"]).stdout)
    assert as_json["version"] == "1.3.0" and len(as_json["features"]) >= 30
    one = runner.invoke(app, ["features", "catalog", "--category", "geography", "--json"])
    assert {f["category"] for f in json.loads(one.stdout)["features"]} == {"geography"}
