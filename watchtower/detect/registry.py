"""The model registry: artifacts on disk, metadata and champion history in the store.

Every trained model is saved as a joblib file under ``Settings.artifacts_dir`` and recorded in
the ``models`` table with its feature-set version, training window, params, data fingerprint,
metrics, code version, creation time (from a Clock), the artifact's sha256 and an HMAC-SHA256
over (model id, sha256, feature-set version). Exactly one model is the ``champion`` (used for
scoring); ``promote`` and ``rollback`` change it and append to ``model_events``, the audit.

Loading a model unpickles it, which can run code. Whoever can write the artifacts folder can
often write the store beside it too, so a sha256 in the store proves nothing on its own: the
record is signed with a key kept outside both (``WATCHTOWER_MODEL_KEY`` or the key file,
:func:`model_key`). :func:`load_artifact` refuses a file outside the artifacts folder, a file
whose sha256 differs from its record, and a record whose HMAC does not verify (rewritten,
unsigned, or signed with another key), unless ``trust=True``, and then says so loudly (an
``UntrustedModelWarning`` and a line on stderr). ``sign_model`` vouches for an unsigned or
re-keyed model, and needs ``trust`` too. Details: docs/model-registry.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import sqlalchemy as sa

from watchtower.clock import Clock
from watchtower.config import ConfigError, Settings, load_settings
from watchtower.secretfile import SecretSpec, read_secret
from watchtower.store.models import model_events, models

if TYPE_CHECKING:  # training imports the model stack; the registry needs only the type
    from watchtower.detect.training import TrainResult

__all__ = [
    "ModelKeyError",
    "ModelRecord",
    "RegistryError",
    "UntrustedModelWarning",
    "champion",
    "champion_history",
    "code_version",
    "file_sha256",
    "get_model",
    "list_models",
    "load_artifact",
    "load_model",
    "model_key",
    "promote",
    "record_hmac",
    "register_model",
    "register_trained",
    "rollback",
    "sign_model",
]


class RegistryError(RuntimeError):
    """A registry operation cannot be done; the message says why and what to do."""


class ModelKeyError(ConfigError):
    """The signing key cannot be had (too short, unreadable, too open, inside the artifacts
    folder); a configuration error, reported as one line by the CLI."""


class UntrustedModelWarning(UserWarning):
    """A model file is loaded although it is not a verified registry artifact."""


@dataclass(frozen=True)
class ModelRecord:
    """One row of the ``models`` table."""

    id: str
    created_at: dt.datetime
    kind: str
    feature_set_version: str
    train_start: dt.date | None
    train_end: dt.date
    params: dict[str, Any]
    data_fingerprint: str
    metrics: dict[str, Any]
    code_version: str
    status: str
    artifact_path: str
    artifact_sha256: str
    note: str | None = None
    artifact_hmac: str | None = None


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_MIN_KEY_CHARS = 32
_HMAC_DOMAIN = "watchtower-model-record/1"


def model_key(settings: Settings | None = None, artifacts_dir: Path | None = None) -> bytes:
    """The registry's signing key: ``WATCHTOWER_MODEL_KEY``, else the key file (created with
    a random key, mode 0600, on first use).

    Refused (ModelKeyError) when shorter than 32 characters, when the file is readable or
    writable by group or others (whoever can write it can sign a model), or when it lies in
    the artifacts folder (``settings.artifacts_dir`` and ``artifacts_dir``).
    """
    settings = settings or load_settings()
    path = settings.model_key_file
    if settings.model_key is None:
        for folder in (settings.artifacts_dir, artifacts_dir):
            if folder is not None and path.is_relative_to(folder.expanduser().resolve()):
                raise ModelKeyError(
                    f"the model key file {path} lies in the artifacts folder {folder}: keep it "
                    "where the artifacts' writers cannot reach (WATCHTOWER_MODEL_KEY_FILE)"
                )
    return read_secret(_KEY_SPEC, settings.model_key, path)


_KEY_SPEC = SecretSpec(
    what="the model key",
    variable="WATCHTOWER_MODEL_KEY",
    error=ModelKeyError,
    new_value=lambda: secrets.token_hex(32),
    min_chars=_MIN_KEY_CHARS,
    example="python -c 'import secrets; print(secrets.token_hex(32))'",
    file_hint=" or WATCHTOWER_MODEL_KEY_FILE",
)


def record_hmac(key: bytes, model_id: str, artifact_sha256: str, feature_set_version: str) -> str:
    """HMAC-SHA256 (hex) of what a registry record vouches for. A JSON array, so no two
    different records share one message."""
    message = json.dumps([_HMAC_DOMAIN, model_id, artifact_sha256, feature_set_version])
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _signature_problem(record: ModelRecord, key: bytes) -> str | None:
    if not record.artifact_hmac:
        return (
            "its registry record is not signed (registered before records were signed): check "
            f"the file, then watchtower models sign {record.id} --trust"
        )
    expected = record_hmac(key, record.id, record.artifact_sha256, record.feature_set_version)
    if not hmac.compare_digest(expected, record.artifact_hmac):
        return (
            "its registry record's signature does not verify (the record was rewritten, or "
            "signed with another key than WATCHTOWER_MODEL_KEY / the key file)"
        )
    return None


def code_version() -> str:
    """``watchtower <version>`` plus ``+g<commit>`` (and ``.dirty``) when in a git checkout."""
    try:
        from importlib.metadata import version

        text = f"watchtower {version('watchtower')}"
    except Exception:  # not installed: running from a source tree
        text = "watchtower (source)"
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "watchtower",
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if commit:
            text += f"+g{commit}" + (".dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return text[:100]


def _record(row: Any) -> ModelRecord:
    m = row._mapping
    return ModelRecord(**{k: m[k] for k in ModelRecord.__dataclass_fields__})


def list_models(engine: sa.Engine) -> list[ModelRecord]:
    """Every registered model, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(models).order_by(models.c.created_at.desc(), models.c.id.desc())
        )
        return [_record(r) for r in rows]


def get_model(engine: sa.Engine, model_id: str) -> ModelRecord:
    """The record of ``model_id``; RegistryError when unknown."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(models).where(models.c.id == model_id)).first()
    if row is None:
        raise RegistryError(f"no model {model_id!r} in the registry (see: watchtower models list)")
    return _record(row)


def champion(engine: sa.Engine) -> ModelRecord | None:
    """The current champion, or None when no model was promoted yet."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(models).where(models.c.status == "champion")).first()
    return None if row is None else _record(row)


def register_model(
    engine: sa.Engine,
    artifacts_dir: Path,
    model: Any,
    *,
    feature_set_version: str,
    train_start: dt.date | None,
    train_end: dt.date,
    params: dict[str, Any],
    data_fingerprint: str,
    metrics: dict[str, Any],
    kind: str,
    clock: Clock,
    note: str | None = None,
    actor: str | None = None,
    key: bytes | None = None,
) -> ModelRecord:
    """Save ``model`` under ``artifacts_dir`` and record it, signed, as a ``challenger``.

    ``key`` defaults to :func:`model_key`; it is had first, so a missing key leaves no file.
    """
    key = key if key is not None else model_key(artifacts_dir=artifacts_dir)
    created = clock.now().replace(microsecond=0)
    artifacts_dir.mkdir(parents=True, exist_ok=True)
    tmp = artifacts_dir / f".tmp-{os.getpid()}-{created:%Y%m%d%H%M%S}.joblib"
    joblib.dump(model, tmp)
    sha = file_sha256(tmp)
    base = f"m{created:%Y%m%d%H%M%S}-{sha[:8]}"
    model_id, n = base, 1
    with engine.connect() as conn:
        while conn.execute(sa.select(models.c.id).where(models.c.id == model_id)).first():
            n += 1
            model_id = f"{base}-{n}"
    path = artifacts_dir / f"{model_id}.joblib"
    tmp.replace(path)
    record = ModelRecord(
        id=model_id,
        created_at=created,
        kind=kind,
        feature_set_version=feature_set_version,
        train_start=train_start,
        train_end=train_end,
        params=params,
        data_fingerprint=data_fingerprint,
        metrics=_jsonable(metrics),
        code_version=code_version(),
        status="challenger",
        artifact_path=str(path),
        artifact_sha256=sha,
        note=note,
        artifact_hmac=record_hmac(key, model_id, sha, feature_set_version),
    )
    with engine.begin() as conn:
        conn.execute(models.insert().values(**record.__dict__))
        conn.execute(
            model_events.insert().values(
                at=created, action="register", model_id=model_id, actor=actor, reason=note
            )
        )
    return record


def register_trained(
    engine: sa.Engine,
    artifacts_dir: Path,
    trained: TrainResult,
    *,
    params: dict[str, Any],
    clock: Clock,
    metrics: dict[str, Any] | None = None,
    note: str | None = None,
    actor: str | None = None,
    key: bytes | None = None,
) -> ModelRecord:
    """Register a training result as a ``challenger`` (:func:`register_model`): its model, its
    window, its data fingerprint and its metrics (``metrics`` added to them, e.g. a
    walk-forward evaluation), ``params`` the detector configuration it was trained with."""
    return register_model(
        engine,
        artifacts_dir,
        trained.model,
        feature_set_version=trained.model.feature_set_version,
        train_start=trained.train_start,
        train_end=trained.train_end,
        params=params,
        data_fingerprint=trained.data_fingerprint,
        metrics={**trained.metrics, **(metrics or {})},
        kind=trained.model.kind,
        clock=clock,
        note=note,
        actor=actor,
        key=key,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def champion_history(engine: sa.Engine) -> list[str]:
    """Champions in order of promotion, the current one last (rollbacks pop)."""
    with engine.connect() as conn:
        events = conn.execute(
            sa.select(model_events.c.action, model_events.c.model_id)
            .where(model_events.c.action.in_(("promote", "rollback")))
            .order_by(model_events.c.id)
        ).all()
    stack: list[str] = []
    for action, model_id in events:
        if action == "promote":
            stack.append(model_id)
        elif stack:
            stack.pop()
    return stack


def _set_champion(
    engine: sa.Engine, new: str, clock: Clock, actor: str | None, reason: str | None
) -> ModelRecord:
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(models.c.id).where(models.c.status == "champion")
        ).scalar_one_or_none()
        if current is not None:
            conn.execute(models.update().where(models.c.id == current).values(status="retired"))
        conn.execute(models.update().where(models.c.id == new).values(status="champion"))
        conn.execute(
            model_events.insert().values(
                at=clock.now().replace(microsecond=0),
                action="promote",
                model_id=new,
                previous_champion=current,
                actor=actor,
                reason=reason,
            )
        )
    return get_model(engine, new)


def promote(
    engine: sa.Engine,
    model_id: str,
    *,
    clock: Clock,
    actor: str | None = None,
    reason: str | None = None,
) -> ModelRecord:
    """Make ``model_id`` the champion; the previous champion becomes ``retired``."""
    record = get_model(engine, model_id)
    if record.status == "champion":
        raise RegistryError(f"{model_id} is already the champion")
    return _set_champion(engine, model_id, clock, actor, reason)


def rollback(
    engine: sa.Engine, *, clock: Clock, actor: str | None = None, reason: str | None = None
) -> ModelRecord:
    """Reinstate the champion before the current one; the current one becomes ``retired``."""
    history = champion_history(engine)
    if len(history) < 2:
        raise RegistryError("nothing to roll back to: fewer than two champions so far")
    # The audit is replayed, so rolling back twice goes two champions back.
    with engine.begin() as conn:
        current = history[-1]
        target = history[-2]
        conn.execute(models.update().where(models.c.id == current).values(status="retired"))
        conn.execute(models.update().where(models.c.id == target).values(status="champion"))
        conn.execute(
            model_events.insert().values(
                at=clock.now().replace(microsecond=0),
                action="rollback",
                model_id=target,
                previous_champion=current,
                actor=actor,
                reason=reason or f"rollback to {target}",
            )
        )
    return get_model(engine, target)


def _loud(message: str) -> None:
    warnings.warn(message, UntrustedModelWarning, stacklevel=3)
    print(f"WARNING: {message}", file=sys.stderr)


def load_artifact(
    path: Path | str,
    *,
    artifacts_dir: Path,
    record: ModelRecord | None,
    trust: bool = False,
    key: bytes | None = None,
) -> Any:
    """Unpickle a model file after checking where it lies, what it hashes to and that its
    registry ``record`` is signed with the key.

    Refuses (RegistryError, one line naming the model) a file outside ``artifacts_dir``, a
    file without a record, a file whose sha256 differs from ``record.artifact_sha256``, and a
    record whose HMAC is missing or does not verify with ``key`` (default :func:`model_key`)
    - unless ``trust`` is True, in which case it loads and warns loudly. Unpickling runs code
    from the file: only trust your own.
    """
    p = Path(path).expanduser().resolve()
    root = artifacts_dir.expanduser().resolve()
    name = f"model {record.id}" if record is not None else f"model file {p}"
    if not p.is_file():
        raise RegistryError(f"{name}: file not found: {p}")
    problems = []
    if not p.is_relative_to(root):
        problems.append(f"{p} lies outside the artifacts folder {root}")
    if record is None:
        problems.append(f"{p} has no sha256 recorded in the registry (not a registered model)")
    else:
        problems += _record_problems(p, record, artifacts_dir=artifacts_dir, trust=trust, key=key)
    if problems:
        text = "; ".join(problems)
        if not trust:
            raise RegistryError(
                f"refusing to load {name}: {text}. Loading a model runs code from its file; "
                "--trust (trust=True) is the only way round, for a file you made yourself"
            )
        _loud(f"loading {name}, UNVERIFIED, because trust was given: {text}")
    return joblib.load(p)


def _record_problems(
    p: Path, record: ModelRecord, *, artifacts_dir: Path, trust: bool, key: bytes | None
) -> list[str]:
    """What is wrong between the file ``p`` and its registry record: its hash, the record's
    signature. A missing key raises unless ``trust`` (then it is one more problem)."""
    problems = []
    actual = file_sha256(p)
    if actual != record.artifact_sha256:
        problems.append(
            f"{p} has sha256 {actual[:12]}..., the registry recorded "
            f"{record.artifact_sha256[:12]}..."
        )
    try:
        k = key if key is not None else model_key(artifacts_dir=artifacts_dir)
    except ModelKeyError as exc:
        if not trust:
            raise
        problems.append(f"its signature cannot be checked ({exc})")
    else:
        signed = _signature_problem(record, k)
        if signed:
            problems.append(signed)
    return problems


def load_model(
    engine: sa.Engine,
    artifacts_dir: Path,
    model_id: str,
    *,
    trust: bool = False,
    key: bytes | None = None,
) -> Any:
    """Load the registered model ``model_id``, verified against its signed record."""
    record = get_model(engine, model_id)
    return load_artifact(
        record.artifact_path, artifacts_dir=artifacts_dir, record=record, trust=trust, key=key
    )


def sign_model(
    engine: sa.Engine,
    artifacts_dir: Path,
    model_id: str,
    *,
    trust: bool,
    clock: Clock,
    actor: str | None = None,
    key: bytes | None = None,
) -> tuple[ModelRecord, bool]:
    """Sign the record of ``model_id`` with the key (a model registered before signing, or
    after the key changed); returns the record and whether it changed.

    Signing vouches for a file nobody can verify any more, so it needs ``trust``; the file
    must still hash to the recorded sha256 (a changed file is trained again, not signed).
    """
    record = get_model(engine, model_id)
    key = key if key is not None else model_key(artifacts_dir=artifacts_dir)
    if _signature_problem(record, key) is None:
        return record, False
    if not trust:
        raise RegistryError(
            f"signing model {model_id} vouches for its file, which cannot be verified: check "
            "it is yours, then pass --trust"
        )
    p = Path(record.artifact_path).expanduser().resolve()
    if not p.is_file() or not p.is_relative_to(artifacts_dir.expanduser().resolve()):
        raise RegistryError(f"model {model_id}: {p} is missing or outside the artifacts folder")
    actual = file_sha256(p)
    if actual != record.artifact_sha256:
        raise RegistryError(
            f"model {model_id}: {p} has sha256 {actual[:12]}..., its record "
            f"{record.artifact_sha256[:12]}...: the file changed; train a new model instead"
        )
    mac = record_hmac(key, record.id, record.artifact_sha256, record.feature_set_version)
    with engine.begin() as conn:
        conn.execute(models.update().where(models.c.id == model_id).values(artifact_hmac=mac))
        conn.execute(
            model_events.insert().values(
                at=clock.now().replace(microsecond=0),
                action="sign",
                model_id=model_id,
                actor=actor,
                reason="signed with --trust",
            )
        )
    return get_model(engine, model_id), True
