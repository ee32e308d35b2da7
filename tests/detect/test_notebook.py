"""notebooks/retrain.ipynb runs top to bottom on a small synthetic world."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.detect.world import fast_config_dir, write_small_world
from watchtower import pipeline
from watchtower.clock import FixedClock
from watchtower.config import load_settings
from watchtower.detect.registry import champion, list_models
from watchtower.store import open_store

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "retrain.ipynb"


@pytest.mark.slow
def test_retrain_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    landing = write_small_world(tmp_path / "landing")
    config_dir = fast_config_dir(tmp_path / "config")
    # The notebook finds its world the way the CLI does: WATCHTOWER_HOME / _CONFIG_DIR.
    monkeypatch.setenv("WATCHTOWER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    settings = load_settings()
    pipeline.ingest(settings, landing, clock=FixedClock(dt.datetime(2024, 1, 2)))
    # A first champion, so that the notebook compares against one.
    first = pipeline.train(
        settings, dt.date(2023, 6, 30), clock=FixedClock(dt.datetime(2024, 1, 2)), supervised=False
    )

    nb = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]  # nbformat: no annotations
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=900,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    outputs = "\n".join(
        o.get("text", "") or "".join(o.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    assert "training cut-off AS_OF = 2023-12-31" in outputs
    assert f"champion: {first.model_id}" in outputs
    assert "score" in outputs and "|" in outputs  # reasons printed in zh | en
    engine = open_store(settings.db_url)
    models = list_models(engine)
    assert len(models) == 2
    newest = models[0]
    assert newest.id != first.model_id and newest.note == "retrain notebook"
    assert newest.train_end == dt.date(2023, 12, 31)
    assert "eval_mean_auc" in newest.metrics
    assert champion(engine) is not None
