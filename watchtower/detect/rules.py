"""Regulatory red flags as data: ``models/rules.yaml`` loaded, validated and evaluated.

A rule file holds ``version``, ``params`` (named thresholds, e.g. ``no_fund_months: 12``) and
``rules``. A rule has an ``id``, ``name_zh``/``name_en``, an integer ``severity`` 1-5 (1 info,
2 low, 3 medium, 4 high, 5 critical; the same scale as event severities and the detectors'
``severity_points``), an optional ``tier_floor`` (red|orange|yellow|blue: the lowest warning
tier a hit forces; the one place a rule's floor is set, its meaning owned by
:mod:`watchtower.warn.policy`), a ``condition`` and ``reason_zh``/``reason_en`` templates.

A condition is a tree of ``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}`` and leaves
``{feature: paid_in_ratio, op: "<", value: 0.25}`` (or ``param: paid_in_min_ratio`` instead of
``value``), ops ``< <= > >= == !=``. A leaf on a missing (NaN) feature value is unknown:
never true, also under ``not`` (a missing input never makes a rule fire).
Templates name features and params with Python format specs:
``"实缴比例 {paid_in_ratio:.0%}，低于 {paid_in_min_ratio:.0%}"``; a missing value renders as
``—`` (zh) / ``n/a`` (en).

Adding a rule is editing the YAML only. Loading fails with :class:`RuleError` naming the file,
the rule and the problem (unknown feature or param, bad op, broken template, duplicate id).
"""

from __future__ import annotations

import math
import operator
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from watchtower.config import ConfigError
from watchtower.detect.reasons import RuleHit
from watchtower.values import finite_float
from watchtower.warn.policy import TIERS, check_floor, read_rule_file

__all__ = [
    "OPS",
    "SEVERITY_LABELS",
    "TIER_FLOORS",
    "Condition",
    "Rule",
    "RuleError",
    "RuleHits",
    "RuleSet",
    "evaluate_rules",
    "load_rules",
    "parse_rules",
]

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITY_LABELS: dict[int, tuple[str, str]] = {
    1: ("提示", "info"),
    2: ("低", "low"),
    3: ("中", "medium"),
    4: ("高", "high"),
    5: ("严重", "critical"),
}
#: The tiers a rule may force (the warning tiers, most severe first).
TIER_FLOORS: tuple[str, ...] = TIERS
_RULE_KEYS = {
    "id",
    "name_zh",
    "name_en",
    "severity",
    "tier_floor",
    "condition",
    "reason_zh",
    "reason_en",
    "value",
    "reference",
}
_REQUIRED = ("id", "name_zh", "name_en", "severity", "condition", "reason_zh", "reason_en")
_TOP_KEYS = {"version", "params", "rules"}
_MISSING = {"zh": "—", "en": "n/a"}


class RuleError(ConfigError):
    """A rule file is malformed; the message names the file, the rule and the fix."""


@dataclass(frozen=True)
class Condition:
    """A node of a rule's condition: ``kind`` all|any|not (``children``) or leaf."""

    kind: str
    children: tuple[Condition, ...] = ()
    feature: str | None = None
    op: str | None = None
    value: float | None = None
    param: str | None = None

    def features(self) -> set[str]:
        """Every feature the condition reads."""
        if self.kind == "leaf":
            return {str(self.feature)}
        return set().union(*(c.features() for c in self.children))

    def first_feature(self) -> str:
        if self.kind == "leaf":
            return str(self.feature)
        return self.children[0].first_feature()

    def evaluate(self, frame: pd.DataFrame, params: Mapping[str, float]) -> np.ndarray:
        """Boolean array (len(frame)): where the condition is known to hold. A leaf on a
        missing (NaN) value is unknown, and so stays under ``not`` (three-valued logic:
        ``not`` of unknown is unknown; ``all`` holds when every part holds, ``any`` when one
        does). A rule never fires for data that is not there."""
        return self._evaluate3(frame, params)[0]

    def _evaluate3(
        self, frame: pd.DataFrame, params: Mapping[str, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(holds, known) arrays."""
        if self.kind == "leaf":
            values = frame[str(self.feature)].to_numpy(dtype="float64")
            threshold = params[self.param] if self.param is not None else self.value
            known = ~np.isnan(values)
            with np.errstate(invalid="ignore"):
                result = OPS[str(self.op)](values, threshold)
            return np.asarray(result, dtype=bool) & known, known
        parts = [c._evaluate3(frame, params) for c in self.children]
        n = len(frame)
        if self.kind == "not":
            holds, known = parts[0]
            return ~holds & known, known
        if not parts:
            return np.full(n, self.kind == "all"), np.ones(n, dtype=bool)
        holds_all = np.logical_and.reduce([p[0] for p in parts])
        holds_any = np.logical_or.reduce([p[0] for p in parts])
        known_all = np.logical_and.reduce([p[1] for p in parts])
        false_any = np.logical_or.reduce([p[1] & ~p[0] for p in parts])
        if self.kind == "all":
            return holds_all, known_all | false_any
        return holds_any, known_all | holds_any


@dataclass(frozen=True)
class Rule:
    """One regulatory red flag. ``value_feature``: the feature whose value a hit reports."""

    id: str
    name_zh: str
    name_en: str
    severity: int
    condition: Condition
    reason_zh: str
    reason_en: str
    value_feature: str
    tier_floor: str | None = None
    reference: str | None = None

    def template_fields(self) -> set[str]:
        return _fields(self.reason_zh) | _fields(self.reason_en)


@dataclass(frozen=True)
class RuleSet:
    """A validated rule file: its version, params and rules (file order)."""

    version: str
    params: Mapping[str, float]
    rules: tuple[Rule, ...]

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def features(self) -> set[str]:
        """Every feature any rule reads (conditions and templates)."""
        out: set[str] = set()
        for r in self.rules:
            out |= r.condition.features() | (r.template_fields() - set(self.params))
        return out


def _fields(template: str) -> set[str]:
    return {
        f.split(".")[0].split("[")[0]
        for _, f, _, _ in string.Formatter().parse(template)
        if f is not None
    }


def _condition(
    where: str, raw: Any, params: Mapping[str, float], known: set[str] | None
) -> Condition:
    if not isinstance(raw, Mapping) or not raw:
        raise RuleError(f"{where}: a condition is a mapping (all/any/not or feature/op/value)")
    keys = set(raw)
    if keys & {"all", "any", "not"}:
        return _combination(where, raw, keys, params, known)
    return _leaf(where, raw, keys, params, known)


def _combination(
    where: str,
    raw: Mapping[str, Any],
    keys: set[str],
    params: Mapping[str, float],
    known: set[str] | None,
) -> Condition:
    """``all``/``any`` of a non-empty list of conditions, or ``not`` one condition."""
    for kind in ("all", "any"):
        if kind in keys:
            if keys != {kind} or not isinstance(raw[kind], list) or not raw[kind]:
                raise RuleError(f"{where}: '{kind}' takes a non-empty list and nothing beside it")
            children = tuple(
                _condition(f"{where}.{kind}[{i}]", c, params, known)
                for i, c in enumerate(raw[kind])
            )
            return Condition(kind=kind, children=children)
    if keys != {"not"}:
        raise RuleError(f"{where}: 'not' takes one condition and nothing beside it")
    return Condition(kind="not", children=(_condition(f"{where}.not", raw["not"], params, known),))


def _leaf(
    where: str,
    raw: Mapping[str, Any],
    keys: set[str],
    params: Mapping[str, float],
    known: set[str] | None,
) -> Condition:
    """``feature op value`` or ``feature op param``."""
    allowed = {"feature", "op", "value", "param"}
    unknown = sorted(keys - allowed)
    if unknown:
        raise RuleError(
            f"{where}: unknown key(s) {unknown}; "
            "a condition is all/any/not or feature/op/value|param"
        )
    feature = raw.get("feature")
    if not isinstance(feature, str):
        raise RuleError(f"{where}: a leaf needs 'feature: <name>'")
    if known is not None and feature not in known:
        raise RuleError(f"{where}: unknown feature {feature!r} (not in the feature catalog)")
    op = raw.get("op")
    if op not in OPS:
        raise RuleError(f"{where}: bad op {op!r}; one of {' '.join(OPS)}")
    if ("value" in raw) == ("param" in raw):
        raise RuleError(f"{where}: give exactly one of 'value: <number>' or 'param: <name>'")
    if "param" in raw:
        if raw["param"] not in params:
            raise RuleError(f"{where}: unknown param {raw['param']!r}; declared: {sorted(params)}")
        return Condition(kind="leaf", feature=feature, op=op, param=str(raw["param"]))
    return Condition(kind="leaf", feature=feature, op=op, value=_number(where, raw["value"]))


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float):
        raise RuleError(f"{where}: value {value!r} must be a number (bool features are 1/0)")
    return float(value)


def _check_template(
    where: str, template: Any, names: set[str], sample: Mapping[str, float]
) -> None:
    if not isinstance(template, str) or not template.strip():
        raise RuleError(f"{where}: must be a non-empty string")
    try:
        fields = _fields(template)
    except ValueError as exc:
        raise RuleError(f"{where}: template {template!r} is malformed: {exc}") from exc
    unknown = sorted(fields - names)
    if unknown:
        raise RuleError(
            f"{where}: template references unknown feature/param {unknown} (in {template!r})"
        )
    try:
        template.format(**{f: sample.get(f, 0.5) for f in fields})
    except (ValueError, KeyError, IndexError, AttributeError) as exc:
        raise RuleError(f"{where}: template {template!r} does not format: {exc}") from exc


def _tier_floor(where: str, value: Any) -> str | None:
    """A rule's ``tier_floor`` (None when not set), as the tier policy reads it."""
    try:
        return check_floor(value)
    except ValueError as exc:
        raise RuleError(f"{where}: {exc}") from exc


def _rule(where: str, raw: Any, params: Mapping[str, float], known: set[str] | None) -> Rule:
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where}: a rule must be a mapping")
    if raw.get("id"):
        where = f"{where} ({raw['id']})"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise RuleError(
            f"{where}: unknown key(s) {unknown}; allowed: {', '.join(sorted(_RULE_KEYS))}"
        )
    missing = [k for k in _REQUIRED if raw.get(k) in (None, "")]
    if missing:
        raise RuleError(f"{where}: missing required key(s) {missing}")
    rid = raw["id"]
    if not isinstance(rid, str) or not rid.replace("_", "").isalnum() or not rid.islower():
        raise RuleError(f"{where}: id {rid!r} must be snake_case")
    severity = raw["severity"]
    if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
        raise RuleError(
            f"{where}: severity {severity!r} must be an integer 1-5 (1 info .. 5 critical)"
        )
    floor = _tier_floor(where, raw.get("tier_floor"))
    cond = _condition(f"{where} condition", raw["condition"], params, known)
    names = (set(known) if known is not None else cond.features()) | set(params)
    if known is None:  # without a catalog, templates may name any feature the rule reads
        names |= _fields(str(raw.get("reason_zh", ""))) | _fields(str(raw.get("reason_en", "")))
    for key in ("reason_zh", "reason_en"):
        _check_template(f"{where} {key}", raw[key], names, params)
    value_feature = raw.get("value") or cond.first_feature()
    if known is not None and value_feature not in known:
        raise RuleError(f"{where}: value {value_feature!r} is not a known feature")
    return Rule(
        id=rid,
        name_zh=str(raw["name_zh"]),
        name_en=str(raw["name_en"]),
        severity=int(severity),
        condition=cond,
        reason_zh=raw["reason_zh"],
        reason_en=raw["reason_en"],
        value_feature=str(value_feature),
        tier_floor=floor,
        reference=raw.get("reference"),
    )


def parse_rules(
    data: Any, *, features: Iterable[str] | None = None, label: str = "rules"
) -> RuleSet:
    """Validate a parsed rule document. ``features``: the names rules may use (the catalog);
    None skips the unknown-feature check."""
    if not isinstance(data, Mapping):
        raise RuleError(f"{label}: expected a mapping with version, params and rules")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise RuleError(
            f"{label}: unknown top-level key(s) {unknown}; allowed: version, params, rules"
        )
    known = set(features) if features is not None else None
    raw_params = data.get("params") or {}
    if not isinstance(raw_params, Mapping):
        raise RuleError(f"{label}: params must be a mapping name: number")
    params: dict[str, float] = {}
    for name, value in raw_params.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleError(f"{label}: param {name!r} must be a number, not {value!r}")
        if known is not None and name in known:
            raise RuleError(f"{label}: param {name!r} has the name of a feature; rename it")
        params[str(name)] = float(value)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleError(f"{label}: 'rules' must be a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        rule = _rule(f"{label} rules[{i}]", raw, params, known)
        if rule.id in seen:
            raise RuleError(f"{label}: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        rules.append(rule)
    return RuleSet(version=str(data.get("version", "0")), params=params, rules=tuple(rules))


def load_rules(path: str | Path, *, features: Iterable[str] | None = None) -> RuleSet:
    """Load and validate a rule file (``models/rules.yaml``).

    ``features``: names the rules may reference, e.g. ``catalog.names``; default: every
    feature the engine computes plus the peer percentiles of the project catalog next to the
    file (``../features``) when it exists. Raises :class:`RuleError`.
    """
    path = Path(path)
    data = read_rule_file(path, RuleError)
    if features is None:
        from watchtower.features import computed_features, load_catalog

        catalog_dir = path.resolve().parent.parent / "features"
        features = (
            load_catalog(catalog_dir, check_engine=False).names
            if catalog_dir.is_dir()
            else computed_features()
        )
    return parse_rules(data, features=features, label=str(path))


class _Formatter(string.Formatter):
    """Formats missing (NaN/None) values as a dash instead of 'nan'."""

    def __init__(self, missing: str) -> None:
        self.missing = missing

    def format_field(self, value: Any, format_spec: str) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing
        return super().format_field(value, format_spec)


_FORMATTERS = {lang: _Formatter(text) for lang, text in _MISSING.items()}


def render(template: str, values: Mapping[str, Any], lang: str) -> str:
    """Render a rule template with feature/param ``values``; NaN -> ``—`` / ``n/a``."""
    return _FORMATTERS[lang].format(template, **values)


@dataclass(frozen=True)
class RuleHits:
    """Result of :func:`evaluate_rules` on one day's feature frame.

    - ``hits``: bool frame, index register_no (as given), one column per rule id (file order).
    - ``reasons``: per register_no the rendered hits, most severe first (then by id), as
      ``{"kind": "rule", "code", "severity", "value", "feature", "zh", "en"[, "tier_floor"]}``
      (the ``risk_scores.reasons`` format); an empty list where nothing fired.
    """

    hits: pd.DataFrame
    reasons: pd.Series
    rules: tuple[Rule, ...] = field(repr=False)

    def codes(self) -> pd.Series:
        """Per register_no, the ids of the rules that fired (most severe first)."""
        return self.reasons.map(lambda rs: [r["code"] for r in rs])

    def max_severity(self) -> pd.Series:
        """Per register_no, the highest severity that fired (0 when none)."""
        sev = np.array([r.severity for r in self.rules], dtype="float64")
        m = self.hits.to_numpy(dtype=bool) * sev
        return pd.Series(m.max(axis=1) if len(self.rules) else 0.0, index=self.hits.index)

    def tier_floor(self) -> pd.Series:
        """Per register_no, the highest tier_floor among the hits (None when none)."""
        out = pd.Series([None] * len(self.hits), index=self.hits.index, dtype=object)
        for tier in reversed(TIER_FLOORS):  # lowest first, higher tiers overwrite
            ids = [r.id for r in self.rules if r.tier_floor == tier]
            if ids:
                out[self.hits[ids].any(axis=1)] = tier
        return out

    def as_rule_hits(self) -> dict[str, list[RuleHit]]:
        """``{register_no: [RuleHit, ...]}`` for :meth:`watchtower.detect.model.RiskModel.score`."""
        return {
            str(key): [
                RuleHit(
                    code=r["code"],
                    severity=r["severity"],
                    zh=r["zh"],
                    en=r["en"],
                    value=r["value"],
                    feature=r["feature"],
                )
                for r in rs
            ]
            for key, rs in self.reasons.items()
            if rs
        }


def evaluate_rules(
    features: pd.DataFrame,
    rules: RuleSet | Sequence[Rule],
    params: Mapping[str, float] | None = None,
) -> RuleHits:
    """Evaluate ``rules`` on a feature frame (index register_no, one column per feature).

    Conditions are vectorized over all managers; only hits are rendered. ``rules`` is a
    :class:`RuleSet` (its params apply) or a list of rules with ``params``. Raises
    :class:`RuleError` when a rule reads a column the frame lacks.
    """
    if isinstance(rules, RuleSet):
        params = rules.params if params is None else params
        rule_list = rules.rules
    else:
        rule_list = tuple(rules)
    params = dict(params or {})
    needed: set[str] = set()
    for r in rule_list:
        needed |= r.condition.features() | {r.value_feature} | (r.template_fields() - set(params))
    absent = sorted(needed - set(features.columns))
    if absent:
        raise RuleError(f"the feature frame lacks column(s) {absent} that rules read")
    n = len(features)
    hit_cols: dict[str, np.ndarray] = {}
    per_row: list[list[tuple[int, str, dict[str, Any]]]] = [[] for _ in range(n)]
    for r in rule_list:
        mask = r.condition.evaluate(features, params)
        hit_cols[r.id] = mask
        rows = np.flatnonzero(mask)
        if not len(rows):
            continue
        names = sorted(r.template_fields() - set(params))
        cols = {f: features[f].to_numpy()[rows] for f in names}
        value_col = features[r.value_feature].to_numpy(dtype="float64")[rows]
        for j, pos in enumerate(rows.tolist()):
            values = {**params, **{f: cols[f][j] for f in names}}
            reason: dict[str, Any] = {
                "kind": "rule",
                "code": r.id,
                "severity": r.severity,
                "value": finite_float(value_col[j]),
                "feature": r.value_feature,
                "zh": render(r.reason_zh, values, "zh"),
                "en": render(r.reason_en, values, "en"),
            }
            if r.tier_floor:
                reason["tier_floor"] = r.tier_floor
            per_row[pos].append((-r.severity, r.id, reason))
    hits = pd.DataFrame(hit_cols, index=features.index, columns=[r.id for r in rule_list])
    reasons = pd.Series(
        [[item[2] for item in sorted(items, key=lambda t: (t[0], t[1]))] for items in per_row],
        index=features.index,
        dtype=object,
    )
    return RuleHits(hits=hits.astype(bool), reasons=reasons, rules=rule_list)
