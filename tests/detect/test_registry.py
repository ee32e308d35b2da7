"""Model registry: save/load round trip, hashes, trust, champion changes and their audit."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.detect.fakes import CATALOG, day, hits_for, world
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.detect.config import DetectConfig
from watchtower.detect.registry import (
    RegistryError,
    UntrustedModelWarning,
    champion,
    champion_history,
    code_version,
    get_model,
    list_models,
    load_artifact,
    load_model,
    promote,
    register_trained,
    rollback,
)
from watchtower.detect.training import train_model
from watchtower.store import open_store
from watchtower.store.models import model_events


def _register(engine: sa.Engine, artifacts: Path, minute: int) -> str:
    frame, _, _ = world(n=120)
    res = train_model(DetectConfig(), CATALOG, day(minute), lambda _d: frame)
    rec = register_trained(
        engine,
        artifacts,
        res,
        params=DetectConfig().to_dict(),
        clock=FixedClock(dt.datetime(2024, 7, 1, 9, minute)),
        note=f"model {minute}",
    )
    return rec.id


def _store(url: str, settings: Settings) -> None:
    engine = open_store(url)
    artifacts = settings.artifacts_dir
    a = _register(engine, artifacts, 1)
    rec = get_model(engine, a)
    assert rec.status == "challenger"
    assert rec.created_at == dt.datetime(2024, 7, 1, 9, 1)
    assert rec.feature_set_version == "1.0.0" and rec.train_end == day(1)
    assert len(rec.artifact_sha256) == 64 and len(rec.data_fingerprint) == 64
    assert rec.params["detectors"][0]["kind"] == "IForest"
    assert rec.code_version.startswith("watchtower")
    assert (
        Path(rec.artifact_path).parent == artifacts.resolve()
        or Path(rec.artifact_path).parent == artifacts
    )
    # round trip: the loaded model scores exactly like the trained one
    frame, _, _ = world(n=120)
    loaded = load_model(engine, artifacts, a)
    fresh = train_model(DetectConfig(), CATALOG, day(1), lambda _d: frame).model
    pd.testing.assert_frame_equal(
        loaded.score(frame, hits_for(frame)), fresh.score(frame, hits_for(frame))
    )
    assert champion(engine) is None
    b = _register(engine, artifacts, 2)
    c = _register(engine, artifacts, 3)
    assert [r.id for r in list_models(engine)] == [c, b, a]
    clock = FixedClock(dt.datetime(2024, 7, 2, 10, 0))
    promote(engine, a, clock=clock, actor="alice", reason="first")
    promote(engine, b, clock=clock, actor="alice")
    promote(engine, c, clock=clock, actor="bob")
    current = champion(engine)
    assert current is not None and current.id == c
    assert {r.id: r.status for r in list_models(engine)} == {
        a: "retired",
        b: "retired",
        c: "champion",
    }
    with pytest.raises(RegistryError, match="already the champion"):
        promote(engine, c, clock=clock)
    assert rollback(engine, clock=clock, actor="bob", reason="bad week").id == b
    assert rollback(engine, clock=clock).id == a  # twice: two champions back
    with pytest.raises(RegistryError, match="nothing to roll back"):
        rollback(engine, clock=clock)
    assert champion_history(engine) == [a]
    assert [r.id for r in list_models(engine) if r.status == "champion"] == [a]
    with engine.connect() as conn:
        audit = conn.execute(
            sa.select(
                model_events.c.action,
                model_events.c.model_id,
                model_events.c.previous_champion,
                model_events.c.actor,
            ).order_by(model_events.c.id)
        ).all()
    assert [tuple(r) for r in audit if r[0] != "register"] == [
        ("promote", a, None, "alice"),
        ("promote", b, a, "alice"),
        ("promote", c, b, "bob"),
        ("rollback", b, c, "bob"),
        ("rollback", a, b, None),
    ]
    assert sum(r[0] == "register" for r in audit) == 3
    with pytest.raises(RegistryError, match="no model"):
        get_model(engine, "nope")


def test_registry_round_trip_sqlite(settings: Settings) -> None:
    _store(settings.db_url, settings)


@pytest.mark.postgres
def test_registry_round_trip_postgres(settings: Settings, postgres_url: str) -> None:
    _store(postgres_url, settings)


def test_untrusted_files_are_refused_unless_trusted(settings: Settings, tmp_path: Path) -> None:
    engine = open_store(settings.db_url)
    mid = _register(engine, settings.artifacts_dir, 1)
    rec = get_model(engine, mid)
    path = Path(rec.artifact_path)
    # tampered artifact: refused, even inside the artifacts folder
    original = path.read_bytes()
    path.write_bytes(original + b"\0")
    with pytest.raises(RegistryError, match="sha256"):
        load_model(engine, settings.artifacts_dir, mid)
    path.write_bytes(original)
    assert load_model(engine, settings.artifacts_dir, mid) is not None
    # a copy elsewhere: refused, then loaded with a loud warning when trusted
    outside = tmp_path / "elsewhere" / "model.joblib"
    outside.parent.mkdir()
    shutil.copy(path, outside)
    with pytest.raises(RegistryError, match="outside the artifacts folder"):
        load_artifact(outside, artifacts_dir=settings.artifacts_dir, record=rec)
    with pytest.raises(RegistryError, match="no sha256"):
        load_artifact(path, artifacts_dir=settings.artifacts_dir, record=None)
    with pytest.warns(UntrustedModelWarning, match="UNVERIFIED"):
        model = load_artifact(
            outside, artifacts_dir=settings.artifacts_dir, record=None, trust=True
        )
    assert model.feature_set_version == "1.0.0"
    with pytest.raises(RegistryError, match="not found"):
        load_artifact(
            tmp_path / "missing.joblib", artifacts_dir=settings.artifacts_dir, record=None
        )


def test_code_version_names_package_and_commit() -> None:
    text = code_version()
    assert text.startswith("watchtower")
    assert len(text) <= 100
