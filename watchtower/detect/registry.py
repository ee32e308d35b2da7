"""The model registry: artifacts on disk, metadata and champion history in the store.

Every trained model is saved as a joblib file under ``Settings.artifacts_dir`` and recorded in
the ``models`` table with its feature-set version, training window, params, data fingerprint,
metrics, code version, creation time (from a Clock) and the artifact's sha256. Exactly one
model is the ``champion`` (used for scoring); ``promote`` and ``rollback`` change it and append
to ``model_events``, the audit trail.

Loading a model unpickles it, which can run code: :func:`load_artifact` refuses files outside
the artifacts folder or whose sha256 differs from the registry's, unless ``trust=True``, and
then says so loudly (a ``UntrustedModelWarning`` and a line on stderr).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import sqlalchemy as sa

from watchtower.clock import Clock
from watchtower.store.models import model_events, models

__all__ = [
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
    "promote",
    "register_model",
    "rollback",
]


class RegistryError(RuntimeError):
    """A registry operation cannot be done; the message says why and what to do."""


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


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
) -> ModelRecord:
    """Save ``model`` under ``artifacts_dir`` and record it as a ``challenger``."""
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
    )
    with engine.begin() as conn:
        conn.execute(models.insert().values(**record.__dict__))
        conn.execute(
            model_events.insert().values(
                at=created, action="register", model_id=model_id, actor=actor, reason=note
            )
        )
    return record


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
    expected_sha256: str | None,
    trust: bool = False,
) -> Any:
    """Unpickle a model file after checking where it lies and what it hashes to.

    Refuses (RegistryError) a file outside ``artifacts_dir``, a file without a recorded hash,
    or one whose sha256 differs from ``expected_sha256`` - unless ``trust`` is True, in which
    case it loads and warns loudly. Unpickling runs code from the file: only trust your own.
    """
    p = Path(path).expanduser().resolve()
    root = artifacts_dir.expanduser().resolve()
    if not p.is_file():
        raise RegistryError(f"model file not found: {p}")
    problems = []
    if not p.is_relative_to(root):
        problems.append(f"{p} lies outside the artifacts folder {root}")
    if expected_sha256 is None:
        problems.append(f"{p} has no sha256 recorded in the registry")
    else:
        actual = file_sha256(p)
        if actual != expected_sha256:
            problems.append(
                f"{p} has sha256 {actual[:12]}..., the registry recorded {expected_sha256[:12]}..."
            )
    if problems:
        text = "; ".join(problems)
        if not trust:
            raise RegistryError(
                f"refusing to load an unverified model file ({text}). Loading a model runs code "
                "from the file; pass --trust (trust=True) only for a file you made yourself."
            )
        _loud(f"loading an UNVERIFIED model file because trust was given: {text}")
    return joblib.load(p)


def load_model(
    engine: sa.Engine, artifacts_dir: Path, model_id: str, *, trust: bool = False
) -> Any:
    """Load the registered model ``model_id`` (verified against its recorded sha256)."""
    record = get_model(engine, model_id)
    return load_artifact(
        record.artifact_path,
        artifacts_dir=artifacts_dir,
        expected_sha256=record.artifact_sha256,
        trust=trust,
    )
