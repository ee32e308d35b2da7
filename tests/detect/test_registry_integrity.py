"""Registry integrity: whoever can write the artifacts folder and the store beside it cannot
make Watchtower unpickle their file; the record is signed with a key kept outside both."""

from __future__ import annotations

import datetime as dt
import pathlib
import stat
from collections.abc import Callable
from pathlib import Path

import joblib
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.detect.fakes import CATALOG, day, world
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.config import Settings, load_settings
from watchtower.detect.config import DetectConfig
from watchtower.detect.registry import (
    ModelKeyError,
    RegistryError,
    UntrustedModelWarning,
    file_sha256,
    get_model,
    load_model,
    model_key,
    promote,
    register_trained,
    sign_model,
)
from watchtower.detect.training import train_model
from watchtower.store import open_store
from watchtower.store.models import model_events, models

runner = CliRunner()
CLOCK = FixedClock(dt.datetime(2024, 7, 1, 9, 0))


class _Payload:
    """A foreign 'model': unpickling it touches a marker file, the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[Path], None], tuple[Path]]:
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file of this test's own, outside the home, the store and the artifacts."""
    path = tmp_path / "config" / "watchtower" / "model.key"
    monkeypatch.setenv("WATCHTOWER_MODEL_KEY_FILE", str(path))
    monkeypatch.delenv("WATCHTOWER_MODEL_KEY", raising=False)
    return path


def _champion(settings: Settings) -> tuple[sa.Engine, str]:
    engine = open_store(settings.db_url)
    frame, _, _ = world(n=120)
    res = train_model(DetectConfig(), CATALOG, day(1), lambda _d: frame)
    rec = register_trained(
        engine,
        settings.artifacts_dir,
        res,
        params=DetectConfig().to_dict(),
        clock=CLOCK,
    )
    promote(engine, rec.id, clock=CLOCK)
    return engine, rec.id


def _plant(engine: sa.Engine, model_id: str, tmp_path: Path) -> Path:
    """The attack: replace the artifact with a foreign pickle and rewrite its sha256 in the
    store to match. Returns the marker the payload would create."""
    marker = tmp_path / "pwned"
    path = Path(get_model(engine, model_id).artifact_path)
    joblib.dump(_Payload(marker), path)
    with engine.begin() as conn:
        conn.execute(
            models.update().where(models.c.id == model_id).values(artifact_sha256=file_sha256(path))
        )
    return marker


def _one_error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


def test_normal_flow_signs_and_loads(settings: Settings, key_file: Path) -> None:
    engine, mid = _champion(settings)
    rec = get_model(engine, mid)
    assert rec.artifact_hmac is not None and len(rec.artifact_hmac) == 64
    assert load_model(engine, settings.artifacts_dir, mid).feature_set_version == "1.0.0"
    # the key was created on first use, for the owner only, outside home and artifacts
    assert key_file.is_file() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    assert not key_file.is_relative_to(settings.home)


def test_rewritten_sha256_and_replaced_artifact_are_refused(
    settings: Settings, tmp_path: Path
) -> None:
    engine, mid = _champion(settings)
    marker = _plant(engine, mid, tmp_path)
    with pytest.raises(RegistryError, match=f"refusing to load model {mid}: .*--trust"):
        load_model(engine, settings.artifacts_dir, mid)
    assert not marker.exists()
    # through the CLI: one line naming the model and --trust, exit 2, nothing unpickled
    r = runner.invoke(app, ["score", "--as-of", "2024-06-30"])
    assert r.exit_code == 2
    line = _one_error_line(r.output)
    assert mid in line and "--trust" in line and "signature does not verify" in line
    assert not marker.exists()


def test_rewritten_hmac_is_refused(settings: Settings) -> None:
    engine, mid = _champion(settings)
    with engine.begin() as conn:
        conn.execute(models.update().where(models.c.id == mid).values(artifact_hmac="0" * 64))
    with pytest.raises(RegistryError, match="signature does not verify"):
        load_model(engine, settings.artifacts_dir, mid)


def test_another_key_is_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, mid = _champion(settings)
    monkeypatch.setenv("WATCHTOWER_MODEL_KEY", "k" * 40)
    with pytest.raises(RegistryError, match="signed with another key"):
        load_model(engine, settings.artifacts_dir, mid)
    with pytest.raises(RegistryError, match="signature does not verify"):
        load_model(engine, settings.artifacts_dir, mid, key=b"x" * 32)


def test_trust_is_the_only_way_round(settings: Settings, tmp_path: Path) -> None:
    engine, mid = _champion(settings)
    marker = _plant(engine, mid, tmp_path)
    with pytest.warns(UntrustedModelWarning, match="UNVERIFIED"):
        load_model(engine, settings.artifacts_dir, mid, trust=True)
    assert marker.exists()  # trust loads whatever it is told to: the user vouched for it
    marker.unlink()
    with pytest.warns(UntrustedModelWarning, match="UNVERIFIED"):
        r = runner.invoke(app, ["score", "--as-of", "2024-06-30", "--trust"])
    assert "UNVERIFIED" in r.output and marker.exists()


def test_unsigned_models_need_sign_with_trust(settings: Settings) -> None:
    """A model registered before records were signed (HMAC NULL after the migration) is
    refused with the way out; `models sign ID --trust` vouches for it, in the audit."""
    engine, mid = _champion(settings)
    with engine.begin() as conn:
        conn.execute(models.update().where(models.c.id == mid).values(artifact_hmac=None))
    with pytest.raises(RegistryError, match=f"not signed.*models sign {mid} --trust"):
        load_model(engine, settings.artifacts_dir, mid)
    r = runner.invoke(app, ["models", "sign", mid])
    assert r.exit_code == 2 and "--trust" in _one_error_line(r.output)
    r = runner.invoke(app, ["models", "sign", mid, "--trust"])
    assert r.exit_code == 0 and f"{mid} signed" in r.output, r.output
    assert load_model(engine, settings.artifacts_dir, mid) is not None
    r = runner.invoke(app, ["models", "sign", mid, "--trust"])
    assert r.exit_code == 0 and "already signed" in r.output
    with engine.connect() as conn:
        actions = conn.execute(
            sa.select(model_events.c.action).where(model_events.c.model_id == mid)
        ).scalars()
        assert list(actions).count("sign") == 1


def test_sign_refuses_a_changed_file(settings: Settings, tmp_path: Path) -> None:
    engine, mid = _champion(settings)
    path = Path(get_model(engine, mid).artifact_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with engine.begin() as conn:
        conn.execute(models.update().where(models.c.id == mid).values(artifact_hmac=None))
    with pytest.raises(RegistryError, match="the file changed"):
        sign_model(engine, settings.artifacts_dir, mid, trust=True, clock=CLOCK)


def test_key_sources_and_refusals(
    settings: Settings, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHTOWER_MODEL_KEY", "short")
    with pytest.raises(ModelKeyError, match="at least 32"):
        model_key()
    monkeypatch.setenv("WATCHTOWER_MODEL_KEY", "s" * 32)
    assert model_key() == b"s" * 32
    monkeypatch.delenv("WATCHTOWER_MODEL_KEY")
    first = model_key()
    assert model_key() == first  # created once, then read
    key_file.chmod(0o644)
    with pytest.raises(ModelKeyError, match="chmod 600"):
        model_key()
    inside = settings.artifacts_dir / "model.key"
    monkeypatch.setenv("WATCHTOWER_MODEL_KEY_FILE", str(inside))
    with pytest.raises(ModelKeyError, match="artifacts folder"):
        model_key(load_settings())
    assert not inside.exists()
