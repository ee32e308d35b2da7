"""The feature catalog: typed, versioned declarations apart from the code that computes them.

A catalog is one YAML file (or a folder of them, merged) with a ``version`` and a list of
``features``. Each feature declares its name, zh/en labels, description, category, unit,
direction (which way is riskier), window, source table and a zh/en ``reason`` template that
explains a value in one sentence (``"实缴比例 {value:.0%}"``). A feature with ``peer_of: base``
is the percentile of ``base`` within the manager's type (peer group); the engine derives it
generically, so declaring one needs no code.

Loading validates everything and fails with a :class:`CatalogError` naming the file, the
feature and the problem: unknown keys, duplicate names, bad enums, broken templates, and
(``check_engine=True``) any declared feature the engine cannot compute, computed feature not
declared, or window the engine does not apply (a declared window either drives the computation,
engine ``DEFAULT_WINDOWS``, or must equal the one it computes over, ``FIXED_WINDOWS``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from watchtower.features._changes import CHANGE_BY_NAME
from watchtower.features._spec import Catalog, CatalogError, Direction, FeatureSpec
from watchtower.features.engine import FIXED_WINDOWS, computed_features

__all__ = [
    "CATEGORIES",
    "DIRECTIONS",
    "SOURCES",
    "UNITS",
    "Catalog",
    "CatalogError",
    "Direction",
    "FeatureSpec",
    "default_catalog_path",
    "load_catalog",
    "parse_catalog",
]

CATEGORIES: dict[str, tuple[str, str]] = {
    "registration_capital": ("登记与资本", "Registration and capital"),
    "people_governance": ("人员与治理", "People and governance"),
    "fund_lifecycle": ("产品生命周期", "Fund lifecycle"),
    "disclosure": ("信息披露合规", "Disclosure compliance"),
    "fund_dynamics": ("产品运行", "Fund dynamics"),
    "external": ("外部信号", "External signals"),
    "geography": ("地域", "Geography"),
    "network": ("关系网络", "Network"),
}
UNITS = ("ratio", "万元", "count", "days", "months", "years", "bool", "percentile", "number")
DIRECTIONS: tuple[str, ...] = ("higher_is_riskier", "lower_is_riskier", "neutral")
SOURCES = (
    "managers",
    "manager_details",
    "funds",
    "fund_details",
    "reports",
    "events",
    "change_events",
)
_WINDOW_RE = re.compile(r"^(none|\d+[dm])$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

_REQUIRED = (
    "name",
    "label_zh",
    "label_en",
    "description",
    "category",
    "unit",
    "direction",
    "window",
    "source",
    "reason",
)
_OPTIONAL = ("peer_relative", "peer_of")
_TOP_KEYS = ("version", "features")


def _template_fields(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


#: Template fields of a change feature's reason besides {value}: the past and present values
#: of its base and the span in months (watchtower.detect.reasons fills them).
CHANGE_FIELDS = ("past", "now", "months")


def _check_template(where: str, template: str, sample: float, *, change: bool = False) -> None:
    fields = _template_fields(template)
    allowed = {"value", *CHANGE_FIELDS} if change else {"value"}
    unknown = sorted({f.split(".")[0].split("[")[0] for f in fields} - allowed)
    if unknown:
        shown = ", ".join("{" + f + "}" for f in sorted(allowed))
        raise CatalogError(f"{where}: template {template!r} may only use {shown}, not {unknown}")
    try:
        template.format(value=sample, past=sample, now=sample, months=6)
    except (ValueError, KeyError, IndexError) as exc:
        raise CatalogError(f"{where}: template {template!r} does not format: {exc}") from exc


def _feature(where: str, raw: Any) -> FeatureSpec:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where}: a feature must be a mapping, got {type(raw).__name__}")
    name = raw.get("name")
    where = f"{where} ({name})" if name else where
    _check_feature_keys(where, raw)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise CatalogError(f"{where}: name {name!r} must be snake_case ([a-z][a-z0-9_]*)")
    checks: list[tuple[str, tuple[str, ...]]] = [
        ("category", tuple(CATEGORIES)),
        ("unit", UNITS),
        ("direction", DIRECTIONS),
        ("source", SOURCES),
    ]
    for key, allowed_values in checks:
        if raw[key] not in allowed_values:
            raise CatalogError(
                f"{where}: {key} {raw[key]!r} is not one of {', '.join(allowed_values)}"
            )
    window = str(raw["window"])
    if not _WINDOW_RE.match(window):
        raise CatalogError(f"{where}: window {window!r} must be 'none' or like '90d', '12m'")
    reason = _reason(where, raw["reason"], change=name in CHANGE_BY_NAME)
    peer_of = raw.get("peer_of")
    peer_relative = bool(raw.get("peer_relative", peer_of is not None))
    if peer_relative != (peer_of is not None):
        raise CatalogError(f"{where}: peer_relative: true needs peer_of: <base feature> (and back)")
    if peer_relative and raw["unit"] != "percentile":
        raise CatalogError(f"{where}: a peer-relative feature has unit percentile")
    return FeatureSpec(
        name=name,
        label_zh=str(raw["label_zh"]),
        label_en=str(raw["label_en"]),
        description=str(raw["description"]).strip(),
        category=str(raw["category"]),
        unit=str(raw["unit"]),
        direction=raw["direction"],
        window=window,
        source=str(raw["source"]),
        reason_zh=reason["zh"],
        reason_en=reason["en"],
        peer_relative=peer_relative,
        peer_of=peer_of,
    )


def _check_feature_keys(where: str, raw: Mapping[str, Any]) -> None:
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        allowed = ", ".join((*_REQUIRED, *_OPTIONAL))
        raise CatalogError(f"{where}: unknown key(s) {unknown}; allowed: {allowed}")
    missing = [k for k in _REQUIRED if raw.get(k) in (None, "")]
    if missing:
        raise CatalogError(f"{where}: missing required key(s) {missing}")


def _reason(where: str, reason: Any, *, change: bool = False) -> Mapping[str, str]:
    """A feature's ``reason``: a zh and an en template, each formatting ``{value}`` (a change
    feature's also {past}, {now} and {months})."""
    if not isinstance(reason, Mapping) or set(reason) != {"zh", "en"}:
        raise CatalogError(f"{where}: reason must be a mapping with exactly the keys zh and en")
    for lang in ("zh", "en"):
        if not isinstance(reason[lang], str) or not reason[lang].strip():
            raise CatalogError(f"{where}: reason.{lang} must be a non-empty string")
        _check_template(f"{where} reason.{lang}", reason[lang], 0.5, change=change)
    return reason


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        if not files:
            raise CatalogError(f"{path}: no *.yaml catalog files in this folder")
        return files
    if not path.exists():
        raise CatalogError(f"{path}: catalog file not found")
    return [path]


def parse_catalog(
    documents: Iterable[tuple[str, Any]],
    *,
    computable: Iterable[str] | None = None,
    fixed_windows: Mapping[str, str] | None = None,
) -> Catalog:
    """Validate parsed YAML documents ``(label, data)`` into one :class:`Catalog`.

    ``computable``: the names the engine computes (peer features excluded); when given, every
    declared non-peer feature must be among them and every one of them must be declared.
    ``fixed_windows``: feature -> the only window the engine computes it over; a feature
    declaring another one is refused (a window either drives the computation or is checked
    against it). A peer percentile declares its base feature's window.
    """
    version: str | None = None
    specs: list[FeatureSpec] = []
    seen: dict[str, str] = {}
    for label, data in documents:
        if not isinstance(data, Mapping):
            raise CatalogError(f"{label}: expected a mapping with 'version' and 'features'")
        unknown = sorted(set(data) - set(_TOP_KEYS))
        if unknown:
            raise CatalogError(
                f"{label}: unknown top-level key(s) {unknown}; allowed: version, features"
            )
        version = _document_version(label, data.get("version"), version)
        features = data.get("features") or []
        if not isinstance(features, list):
            raise CatalogError(f"{label}: 'features' must be a list")
        for i, raw in enumerate(features):
            spec = _document_feature(f"{label} features[{i}]", raw, fixed_windows or {})
            if spec.name in seen:
                raise CatalogError(
                    f"{label}: duplicate feature name {spec.name!r} (first in {seen[spec.name]})"
                )
            seen[spec.name] = label
            specs.append(spec)
    if version is None:
        raise CatalogError("catalog: missing 'version' (e.g. version: \"1.0.0\")")
    if not specs:
        raise CatalogError("catalog: no features declared")
    _check_peers(specs)
    if computable is not None:
        _check_computable(specs, set(computable))
    return Catalog(version=version, features=tuple(specs))


def _document_version(label: str, raw: Any, version: str | None) -> str | None:
    """The catalog's version after reading one document's (all documents agree)."""
    if raw is None:
        return version
    doc_version = str(raw)
    if not _VERSION_RE.match(doc_version):
        raise CatalogError(f"{label}: version {doc_version!r} must look like 1.0.0")
    if version is not None and doc_version != version:
        raise CatalogError(f"{label}: version {doc_version} differs from {version}")
    return doc_version


def _document_feature(where: str, raw: Any, fixed_windows: Mapping[str, str]) -> FeatureSpec:
    spec = _feature(where, raw)
    fixed = fixed_windows.get(spec.name)
    if fixed is not None and spec.window != fixed:
        raise CatalogError(
            f"{where} ({spec.name}): window {spec.window!r}, but the engine computes "
            f"{spec.name} over {fixed!r} only (set window: {fixed}, or make its window "
            "adjustable in watchtower/features/engine.py DEFAULT_WINDOWS)"
        )
    return spec


def _check_peers(specs: list[FeatureSpec]) -> None:
    """A peer percentile names a declared, non-peer base feature and shares its window."""
    by_name = {s.name: s for s in specs}
    for s in specs:
        if s.peer_of is None:
            continue
        base = by_name.get(s.peer_of)
        if base is None:
            raise CatalogError(f"feature {s.name}: peer_of {s.peer_of!r} is not a declared feature")
        if base.peer_of is not None:
            raise CatalogError(f"feature {s.name}: peer_of {s.peer_of!r} is itself peer-relative")
        if s.window != base.window:
            raise CatalogError(
                f"feature {s.name}: window {s.window!r} differs from its base {base.name}'s "
                f"{base.window!r} (a percentile of {base.name} has its window: set {base.window})"
            )


def _check_computable(specs: list[FeatureSpec], computable: set[str]) -> None:
    """Declared non-peer features and the engine's computed ones match one to one."""
    declared = {s.name for s in specs if s.peer_of is None}
    not_computable = sorted(declared - computable)
    if not_computable:
        raise CatalogError(
            f"catalog declares feature(s) the engine cannot compute: {not_computable} "
            "(fix the name or add the computation in watchtower/features/engine.py)"
        )
    undeclared = sorted(computable - declared)
    if undeclared:
        raise CatalogError(
            f"the engine computes feature(s) the catalog does not declare: {undeclared} "
            "(declare them in features/*.yaml)"
        )


def load_catalog(path: str | Path, *, check_engine: bool = True) -> Catalog:
    """Load and validate the catalog at ``path`` (a YAML file or a folder of YAML files).

    With ``check_engine`` (default) declared and computed features must match one to one.
    Raises :class:`CatalogError` with a message naming the problem.
    """
    docs: list[tuple[str, Any]] = []
    for file in _files(Path(path)):
        try:
            docs.append((str(file), yaml.safe_load(file.read_text(encoding="utf-8"))))
        except yaml.YAMLError as exc:
            raise CatalogError(f"{file}: not valid YAML: {exc}") from exc
    if not check_engine:
        return parse_catalog(docs)
    return parse_catalog(docs, computable=computed_features(), fixed_windows=FIXED_WINDOWS)


def default_catalog_path(config_dir: Path) -> Path:
    """``<config_dir>/features``: where the catalog lives in a checkout (Settings.features_dir)."""
    return config_dir / "features"
