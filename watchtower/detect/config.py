"""The detector configuration (models/detectors.yaml) as typed, validated data."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from watchtower.config import ConfigError
from watchtower.detect.detectors import COMBINATIONS, DETECTOR_KINDS, RiskEnsemble
from watchtower.detect.supervised import RETRAIN_SCHEDULES

__all__ = [
    "DEFAULT_PROMOTE_MARGIN",
    "Banding",
    "DetectConfig",
    "DetectConfigError",
    "DetectorSpec",
    "load_detect_config",
    "load_promote_margin",
]

#: Promote a challenger when its mean AUC beats the champion's by at least this much
#: (models/detectors.yaml ``retrain.promote_margin`` overrides it).
DEFAULT_PROMOTE_MARGIN = 0.01


class DetectConfigError(ConfigError):
    """models/detectors.yaml is malformed; the message says where."""


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Banding:
    """One ``peer_group.comparable_by`` entry: a feature cut at fixed, increasing ``edges``
    into bands ``< edges[0]``, ``[edges[0], edges[1])``, ..., ``>= edges[-1]``."""

    feature: str
    edges: tuple[float, ...]


@dataclass(frozen=True)
class DetectConfig:
    """Everything that shapes a score; stored with every registered model."""

    peer_key: str | None = "manager_type"
    peer_min_size: int = 40
    #: comparison cells inside a peer group (detect._cells): empty = the peer group itself
    comparable_by: tuple[Banding, ...] = ()
    cell_min_size: int = 30
    neutral_features: str = "ignore"
    clip: float = 8.0
    per_fund_counts: bool = True
    size_feature: str = "fund_count"
    pool: str = "category_max"
    combination: str = "average"
    n_buckets: int = 2
    contamination: float = 0.05
    detectors: tuple[DetectorSpec, ...] = (
        DetectorSpec("iforest", "IForest", {"n_estimators": 200, "random_state": 42}),
        DetectorSpec("ecod", "ECOD"),
        DetectorSpec("copod", "COPOD"),
        DetectorSpec("hbos", "HBOS"),
    )
    anomaly_scale: float = 4.0
    severity_points: dict[int, float] = field(
        default_factory=lambda: {1: 10.0, 2: 25.0, 3: 45.0, 4: 65.0, 5: 85.0}
    )
    supervised_enabled: str = "auto"
    supervised_estimator: str = "logistic"
    horizon_days: int = 180
    snapshot_every_days: int = 30
    lookback_days: int = 720
    min_positives: int = 8
    #: the walk-forward layer's schedule (scoring without a champion): cut-off C = the month
    #: (quarter) end on or before the scored day; see detect.supervised.retrain_cutoff
    retrain_every: str = "monthly"
    supervised_params: dict[str, Any] = field(default_factory=dict)
    weight_rule: float = 0.4
    weight_anomaly: float = 0.35
    weight_supervised: float = 0.25
    max_reasons: int = 5
    min_deviation: float = 1.5

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the registry's ``params``)."""
        d = asdict(self)
        d["severity_points"] = {str(k): v for k, v in self.severity_points.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["detectors"] = tuple(DetectorSpec(**s) for s in d.get("detectors", ()))
        d["comparable_by"] = tuple(  # absent from models registered before cells existed
            Banding(str(b["feature"]), tuple(float(e) for e in b["edges"]))
            for b in d.get("comparable_by", ())
        )
        d["severity_points"] = {int(k): float(v) for k, v in d["severity_points"].items()}
        return cls(**d)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON form."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def build_ensemble(self, directions: list[int], *, standardize: bool = True) -> RiskEnsemble:
        """An unfitted :class:`RiskEnsemble` for features with the given directions
        (``standardize=False`` for input that is already a matrix of deviations)."""
        members = [(s.name, DETECTOR_KINDS[s.kind](**s.params)) for s in self.detectors]
        return RiskEnsemble(
            detectors=members,
            combination=self.combination,
            n_buckets=self.n_buckets,
            random_state=0,
            contamination=self.contamination,
            directions=directions,
            clip=self.clip,
            standardize=standardize,
        )


#: The keys of models/detectors.yaml, per section (None: the top level); anything else is
#: refused, as in the other loaders: a misspelt key would silently keep its default.
#: ``retrain`` is read by :func:`load_promote_margin` for the retraining step.
_KEYS: dict[str | None, tuple[str, ...]] = {
    None: (
        "version",
        "peer_group",
        "preprocess",
        "ensemble",
        "anomaly",
        "rules",
        "supervised",
        "weights",
        "reasons",
        "retrain",
    ),
    "peer_group": ("key", "min_size", "comparable_by", "cell_min_size"),
    "preprocess": ("neutral_features", "clip", "per_fund_counts", "size_feature", "pool"),
    "ensemble": ("combination", "n_buckets", "contamination", "detectors"),
    "anomaly": ("scale",),
    "rules": ("severity_points",),
    "supervised": (
        "enabled",
        "estimator",
        "horizon_days",
        "snapshot_every_days",
        "lookback_days",
        "min_positives",
        "retrain_every",
        "params",
    ),
    "weights": ("rule", "anomaly", "supervised"),
    "reasons": ("max_reasons", "min_deviation"),
    "retrain": ("promote_margin",),
}
_DETECTOR_KEYS = ("name", "kind", "params")
_BANDING_KEYS = ("feature", "edges")


def _unknown(path: Path, where: str, part: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in set(part) - set(allowed))
    if unknown:
        raise DetectConfigError(
            f"{path}: unknown key(s) {unknown} in {where}; allowed: {', '.join(allowed)}"
        )


def _check_keys(path: Path, raw: dict[str, Any]) -> None:
    """Refuse every key the loader does not read, naming the file, the key and the keys
    allowed there."""
    for section, allowed in _KEYS.items():
        part = raw if section is None else raw.get(section)
        if isinstance(part, dict):  # a section of another type is refused where it is read
            _unknown(path, "the top level" if section is None else section, part, allowed)
    detectors = _section(path, raw, "ensemble").get("detectors") or []
    for i, item in enumerate(detectors if isinstance(detectors, list) else []):
        if isinstance(item, dict):
            _unknown(path, f"ensemble.detectors[{i}]", item, _DETECTOR_KEYS)
    bandings = _section(path, raw, "peer_group").get("comparable_by") or []
    for i, item in enumerate(bandings if isinstance(bandings, list) else []):
        if isinstance(item, dict):
            _unknown(path, f"peer_group.comparable_by[{i}]", item, _BANDING_KEYS)


def _section(path: Path, raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise DetectConfigError(f"{path}: section {name!r} must be a mapping")
    return value


def _read(path: Path) -> dict[str, Any]:
    """The YAML mapping of ``path``, every key checked (the one read of the file)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise DetectConfigError(f"detector config not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise DetectConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise DetectConfigError(f"{path}: expected a mapping at the top")
    for name in ("peer_group", "preprocess", "ensemble", "supervised", "weights", "reasons"):
        _section(path, raw, name)  # a section that is no mapping, before its keys are checked
    _check_keys(path, raw)
    return raw


def load_promote_margin(path: Path | str) -> float:
    """``retrain.promote_margin`` of ``models/detectors.yaml`` (how much higher a challenger's
    mean AUC must be to replace the champion), else :data:`DEFAULT_PROMOTE_MARGIN`."""
    path = Path(path)
    retrain = _section(path, _read(path), "retrain")
    value = retrain.get("promote_margin", DEFAULT_PROMOTE_MARGIN)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise DetectConfigError(
            f"{path}: retrain.promote_margin must be a number, got {value!r}"
        ) from exc


def _detector_specs(path: Path, items: list[Any]) -> list[DetectorSpec]:
    """``ensemble.detectors``: each a known kind whose params its class accepts; unique names."""
    specs: list[DetectorSpec] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "kind" not in item:
            raise DetectConfigError(f"{path}: ensemble.detectors[{i}] needs a 'kind'")
        kind = str(item["kind"])
        if kind not in DETECTOR_KINDS:
            raise DetectConfigError(
                f"{path}: ensemble.detectors[{i}].kind {kind!r} unknown; "
                f"use one of {', '.join(DETECTOR_KINDS)}"
            )
        params = dict(item.get("params") or {})
        try:
            DETECTOR_KINDS[kind](**params)
        except TypeError as exc:
            raise DetectConfigError(f"{path}: ensemble.detectors[{i}].params: {exc}") from exc
        specs.append(DetectorSpec(str(item.get("name") or kind.lower()), kind, params))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise DetectConfigError(f"{path}: detector names must be unique, got {names}")
    return specs


def _edges(path: Path, where: str, value: Any) -> tuple[float, ...]:
    """A banding's edges: a non-empty list of finite, strictly increasing numbers."""
    try:
        edges = tuple(float(e) for e in value)
    except (TypeError, ValueError):
        edges = ()
    finite = all(math.isfinite(e) for e in edges)
    if not edges or not finite or any(a >= b for a, b in itertools.pairwise(edges)):
        raise DetectConfigError(
            f"{path}: {where}.edges must be a list of increasing numbers, got {value!r}"
        )
    return edges


def _bandings(path: Path, peer: dict[str, Any]) -> tuple[Banding, ...]:
    """``peer_group.comparable_by``: a list of ``{feature, edges}``, each feature once."""
    items = peer.get("comparable_by") or []
    if not isinstance(items, list):
        raise DetectConfigError(f"{path}: peer_group.comparable_by must be a list")
    out: list[Banding] = []
    for i, item in enumerate(items):
        where = f"peer_group.comparable_by[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("feature"), str):
            raise DetectConfigError(f"{path}: {where} needs a 'feature' name and 'edges'")
        out.append(Banding(item["feature"], _edges(path, where, item.get("edges"))))
    names = [b.feature for b in out]
    if len(set(names)) != len(names):
        raise DetectConfigError(f"{path}: peer_group.comparable_by features repeat: {names}")
    return tuple(out)


def _cell_min_size(path: Path, peer: dict[str, Any], default: int) -> int:
    value = peer.get("cell_min_size", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DetectConfigError(
            f"{path}: peer_group.cell_min_size must be a whole number >= 1, got {value!r}"
        )
    return value


def _one_of(path: Path, value: str, allowed: Collection[str], message: str) -> str:
    if value not in allowed:
        raise DetectConfigError(f"{path}: {message}")
    return value


def load_detect_config(path: Path | str) -> DetectConfig:
    """Read and validate ``models/detectors.yaml``; raises DetectConfigError with the cause."""
    path = Path(path)
    raw = _read(path)
    peer, pre = _section(path, raw, "peer_group"), _section(path, raw, "preprocess")
    ens, sup = _section(path, raw, "ensemble"), _section(path, raw, "supervised")
    w, rs = _section(path, raw, "weights"), _section(path, raw, "reasons")
    defaults = DetectConfig()
    specs = _detector_specs(path, ens.get("detectors") or [])
    combination = _one_of(
        path,
        str(ens.get("combination", defaults.combination)),
        COMBINATIONS,
        f"ensemble.combination must be one of {', '.join(COMBINATIONS)}",
    )
    neutral = _one_of(
        path,
        str(pre.get("neutral_features", defaults.neutral_features)),
        ("ignore", "two_sided"),
        "preprocess.neutral_features: ignore or two_sided",
    )
    pool = _one_of(
        path,
        str(pre.get("pool", defaults.pool) or "none"),
        ("category_max", "none"),
        "preprocess.pool: category_max or none",
    )
    enabled = str(sup.get("enabled", defaults.supervised_enabled)).lower()
    enabled = _one_of(
        path,
        {"yes": "true", "no": "false"}.get(enabled, enabled),
        ("auto", "true", "false"),
        "supervised.enabled: auto, true or false",
    )
    estimator = _one_of(
        path,
        str(sup.get("estimator", defaults.supervised_estimator)),
        ("logistic", "gradient_boosting"),
        "supervised.estimator: logistic or gradient_boosting",
    )
    retrain_every = _one_of(
        path,
        str(sup.get("retrain_every", defaults.retrain_every)),
        RETRAIN_SCHEDULES,
        "supervised.retrain_every: monthly or quarterly",
    )
    points = (raw.get("rules") or {}).get("severity_points") or defaults.severity_points
    try:
        rs_points = {int(k): float(v) for k, v in points.items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise DetectConfigError(f"{path}: rules.severity_points: {{severity: points}}") from exc
    weights = {
        k: float(w.get(k, getattr(defaults, f"weight_{k}")))
        for k in ("rule", "anomaly", "supervised")
    }
    if any(v < 0 for v in weights.values()) or sum(weights.values()) <= 0:
        raise DetectConfigError(f"{path}: weights must be >= 0 and not all 0")
    return DetectConfig(
        peer_key=peer.get("key", defaults.peer_key) or None,
        peer_min_size=int(peer.get("min_size", defaults.peer_min_size)),
        comparable_by=_bandings(path, peer),
        cell_min_size=_cell_min_size(path, peer, defaults.cell_min_size),
        neutral_features=neutral,
        clip=float(pre.get("clip", defaults.clip)),
        per_fund_counts=bool(pre.get("per_fund_counts", defaults.per_fund_counts)),
        size_feature=str(pre.get("size_feature", defaults.size_feature)),
        pool=pool,
        combination=combination,
        n_buckets=int(ens.get("n_buckets", defaults.n_buckets)),
        contamination=float(ens.get("contamination", defaults.contamination)),
        detectors=tuple(specs) or defaults.detectors,
        anomaly_scale=float((raw.get("anomaly") or {}).get("scale", defaults.anomaly_scale)),
        severity_points=rs_points,
        supervised_enabled=enabled,
        supervised_estimator=estimator,
        horizon_days=int(sup.get("horizon_days", defaults.horizon_days)),
        snapshot_every_days=int(sup.get("snapshot_every_days", defaults.snapshot_every_days)),
        lookback_days=int(sup.get("lookback_days", defaults.lookback_days)),
        min_positives=int(sup.get("min_positives", defaults.min_positives)),
        retrain_every=retrain_every,
        supervised_params=dict(sup.get("params") or {}),
        weight_rule=weights["rule"],
        weight_anomaly=weights["anomaly"],
        weight_supervised=weights["supervised"],
        max_reasons=int(rs.get("max_reasons", defaults.max_reasons)),
        min_deviation=float(rs.get("min_deviation", defaults.min_deviation)),
    )
