"""Detection end to end on a small synthetic world: run, train, score, export, CLI, and the
no-leakage invariant (day D is the same whether or not later data was ingested)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.detect.world import AS_OF, fast_config_dir, write_small_world
from watchtower import pipeline
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.config import Settings, load_settings
from watchtower.detect._scoring import features_at, load_catalog, neutralize_cell, read_scores
from watchtower.detect.registry import UntrustedModelWarning, champion, list_models
from watchtower.store import open_store
from watchtower.store.scoring import risk_scores

pytestmark = pytest.mark.slow

CLOCK = FixedClock(dt.datetime(2024, 1, 2, 8, 0))


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_world(tmp_path_factory.mktemp("world") / "landing")


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fast_config_dir(tmp_path_factory.mktemp("config"))


def _settings(home: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WATCHTOWER_HOME", str(home))
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    return load_settings()


def _ingested(
    home: Path, landing: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    settings = _settings(home, config_dir, monkeypatch)
    summary = pipeline.ingest(settings, landing, clock=CLOCK)
    assert summary.files_loaded == summary.files
    return settings


def _scores(settings: Settings, day: dt.date) -> pd.DataFrame:
    frame = read_scores(open_store(settings.db_url), day, day)
    return frame.drop(columns=["id", "created_at", "model_id"]).reset_index(drop=True)


def test_run_train_score_export(
    tmp_path: Path, landing: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _ingested(tmp_path / "home", landing, config_dir, monkeypatch)
    engine = open_store(settings.db_url)
    # No champion yet: the config scores.
    first = pipeline.run(settings, AS_OF, clock=CLOCK)
    assert first.managers_with_features == first.score.managers_scored > 100
    assert first.score.model_id.startswith("config-")
    rows = read_scores(engine, AS_OF, AS_OF)
    assert rows["score"].between(0, 100).all()
    assert rows["register_no"].is_unique
    assert set(rows["feature_set_version"]) == {str(load_catalog(settings).version)}
    assert rows["created_at"].eq(CLOCK.now()).all()
    with_reasons = rows[rows["reasons"].map(len) > 0]
    assert len(with_reasons) > 10
    for reasons in with_reasons["reasons"]:
        for r in reasons:
            assert {"kind", "code", "severity", "value", "zh", "en"} <= set(r)
            assert r["kind"] in ("rule", "feature") and r["zh"] and r["en"]
    # Re-running the day replaces its rows (idempotent), a partition only its own rows.
    pipeline.score(settings, AS_OF, clock=CLOCK)
    again = read_scores(engine, AS_OF, AS_OF)
    assert len(again) == len(rows)
    pd.testing.assert_frame_equal(
        _scores(settings, AS_OF),
        rows.drop(columns=["id", "created_at", "model_id"]).reset_index(drop=True),
    )
    part = pipeline.score(settings, AS_OF, "securities", clock=FixedClock(dt.datetime(2024, 1, 3)))
    assert 0 < part.managers_scored < len(rows)
    after = read_scores(engine, AS_OF, AS_OF)
    assert len(after) == len(rows)
    assert (after["created_at"] == dt.datetime(2024, 1, 3)).sum() == part.managers_scored
    pd.testing.assert_frame_equal(
        after.drop(columns=["id", "created_at"]).sort_values("register_no").reset_index(drop=True),
        rows.drop(columns=["id", "created_at"]).sort_values("register_no").reset_index(drop=True),
    )  # a partition's scores equal the same rows of the full run
    # Train: the first model becomes champion and is then used for scoring.
    trained = pipeline.train(settings, AS_OF, clock=CLOCK)
    assert trained.status == "champion"
    assert trained.metrics["managers"] == first.managers_with_features
    current = champion(engine)
    assert current is not None and current.id == trained.model_id
    scored = pipeline.score(settings, AS_OF, clock=CLOCK)
    assert scored.model_id == trained.model_id
    with engine.connect() as conn:
        ids = set(
            conn.execute(
                sa.select(risk_scores.c.model_id).where(risk_scores.c.as_of == AS_OF)
            ).scalars()
        )
    assert ids == {trained.model_id}
    # Export.
    out = tmp_path / "scores.csv"
    from watchtower.detect._scoring import export_scores

    n = export_scores(engine, out, start=AS_OF, end=AS_OF)
    with out.open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert n == len(table) == len(rows)
    assert list(table[0])[:5] == ["register_no", "manager_name", "as_of", "score", "tier"]
    assert float(table[0]["score"]) >= float(table[-1]["score"])
    top = next(t for t in table if t["reasons_zh"])
    assert top["reasons_en"]
    assert neutralize_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert neutralize_cell("-1+2") == "'-1+2" and neutralize_cell("@x") == "'@x"
    assert neutralize_cell("+86") == "'+86" and neutralize_cell("上海") == "上海"


def test_cli(
    tmp_path: Path, landing: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _ingested(tmp_path / "home", landing, config_dir, monkeypatch)
    runner = CliRunner()
    day = AS_OF.isoformat()
    r = runner.invoke(app, ["run", "--as-of", day])
    assert r.exit_code == 0, r.output
    assert "managers scored" in r.output
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0 and "no models registered" in r.output
    r = runner.invoke(app, ["models", "train", "--as-of", day, "-q", "--no-supervised"])
    assert r.exit_code == 0, r.output
    first = list_models(open_store(settings.db_url))[0].id
    r = runner.invoke(app, ["models", "train", "--as-of", "2023-03-31", "-q", "--note", "older"])
    assert r.exit_code == 0, r.output
    second = next(m.id for m in list_models(open_store(settings.db_url)) if m.id != first)
    r = runner.invoke(app, ["models", "list"])
    assert f"* {first}" in r.output and second in r.output
    r = runner.invoke(app, ["models", "promote", second, "--reason", "try"])
    assert r.exit_code == 0 and "now the champion" in r.output
    r = runner.invoke(app, ["models", "promote", "nope"])
    assert r.exit_code == 2 and "no model" in r.output
    r = runner.invoke(app, ["models", "rollback"])
    assert r.exit_code == 0 and first in r.output
    r = runner.invoke(app, ["models", "show", first])
    assert r.exit_code == 0 and '"status": "champion"' in r.output
    r = runner.invoke(app, ["score", "--as-of", day, "--json"])
    assert r.exit_code == 0 and first in r.output
    # a model file outside the registry: refused without --trust, loud with it
    outside = tmp_path / "m.joblib"
    outside.write_bytes(
        Path(list_models(open_store(settings.db_url))[0].artifact_path).read_bytes()
    )
    r = runner.invoke(app, ["score", "--as-of", day, "--model", str(outside)])
    assert r.exit_code == 2 and "refusing" in r.output
    with pytest.warns(UntrustedModelWarning, match="UNVERIFIED"):
        r = runner.invoke(app, ["score", "--as-of", day, "--model", str(outside), "--trust"])
    assert r.exit_code == 0 and "UNVERIFIED" in r.output
    out = tmp_path / "x.csv"
    r = runner.invoke(app, ["scores", "export", str(out), "--start", day, "--end", day])
    assert r.exit_code == 0 and out.exists()
    r = runner.invoke(app, ["scores", "export", str(out), "--start", day, "--end", "2020-01-01"])
    assert r.exit_code == 2


def test_no_leakage(
    tmp_path: Path, landing: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Features, the trained model's data and the scores of day D are identical whether or not
    the store holds data known after D (the second store is the first one, copied right after
    ingestion, without any row known after D)."""
    import sqlite3

    from watchtower.store.schema import HISTORY

    full = _ingested(tmp_path / "full", landing, config_dir, monkeypatch)
    part = _settings(tmp_path / "early", config_dir, monkeypatch)
    (tmp_path / "early").mkdir(parents=True)
    src = sqlite3.connect(full.db_url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(part.db_url.removeprefix("sqlite:///"))
    src.backup(dst)
    src.close()
    dst.close()
    part_engine = open_store(part.db_url)
    removed = 0
    with part_engine.begin() as conn:
        for table in HISTORY.values():
            removed += conn.execute(table.delete().where(table.c.known_from > AS_OF)).rowcount
    assert removed > 1000
    full_engine = open_store(full.db_url)
    catalog = load_catalog(full)
    results = []
    for settings, engine in ((full, full_engine), (part, part_engine)):
        trained = pipeline.train(settings, AS_OF, clock=CLOCK)
        pipeline.score(settings, AS_OF, clock=CLOCK)
        results.append(
            (trained, features_at(engine, catalog, AS_OF, store=False), _scores(settings, AS_OF))
        )
    (t_full, f_full, s_full), (t_part, f_part, s_part) = results
    pd.testing.assert_frame_equal(f_full, f_part)
    assert t_full.data_fingerprint == t_part.data_fingerprint
    assert t_full.kind == t_part.kind and t_full.metrics == t_part.metrics
    pd.testing.assert_frame_equal(s_full, s_part)
    assert len(s_full) > 100
