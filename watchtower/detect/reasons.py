"""Reasons: why a manager scored what it did, as readable zh/en sentences with real values.

A reason is the JSON object stored in ``risk_scores.reasons`` (see watchtower.store.scoring):
``{"kind": "rule"|"feature", "code", "severity", "value", "zh", "en"}``. Per manager the list
holds the rule hits first (by severity, as rendered by the rules engine) and then the features
that deviate most in their risky direction among the manager's peers, rendered with the
feature catalog's reason template plus the peer median ("实缴比例 12%，同类中位数 65%" /
"paid-in 12% of subscribed capital; peer median 65%").
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FeatureText",
    "Hit",
    "RuleHit",
    "build_reasons",
    "feature_severity",
    "format_like",
    "hit_dict",
]


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired for one manager, already rendered by the rules engine."""

    code: str
    severity: int
    zh: str
    en: str
    value: float | None = None
    feature: str | None = None


@dataclass(frozen=True)
class FeatureText:
    """What reasons need to know about a feature (from the catalog)."""

    name: str
    label_zh: str
    label_en: str
    reason_zh: str
    reason_en: str
    unit: str = "number"

    @property
    def shows_median(self) -> bool:
        """A peer median helps for measured values, not for flags and percentiles."""
        return self.unit not in ("bool", "percentile") and "{value" in self.reason_zh


#: A rule hit as :class:`RuleHit` or as the rules engine's reason dict (``kind``, ``code``,
#: ``severity``, ``value``, ``feature``, ``zh``, ``en`` and optional ``tier_floor``).
Hit = RuleHit | Mapping[str, Any]


def hit_dict(hit: Hit) -> dict[str, Any]:
    """A rule hit as a reason dict (extra keys of a dict hit, e.g. ``tier_floor``, kept)."""
    if isinstance(hit, RuleHit):
        d: dict[str, Any] = {
            "kind": "rule",
            "code": hit.code,
            "severity": int(hit.severity),
            "value": _clean(hit.value),
            "zh": hit.zh,
            "en": hit.en,
        }
        if hit.feature:
            d["feature"] = hit.feature
        return d
    d = dict(hit)
    d["kind"] = "rule"
    d["severity"] = int(d.get("severity") or 0)
    d["value"] = _clean(d.get("value"))
    return d


def _clean(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def format_like(template: str, value: float) -> str:
    """``value`` formatted with the format spec the template gives ``{value}`` (e.g. ``.0%``)."""
    for _, field, spec, _ in string.Formatter().parse(template):
        if field == "value":
            try:
                return format(value, spec or "")
            except (ValueError, TypeError):
                break
    return f"{value:.4g}"


def feature_severity(deviation: float) -> int:
    """Severity 1-3 of a feature reason from its folded robust z (rules reach 5)."""
    if deviation >= 5:
        return 3
    if deviation >= 3:
        return 2
    return 1


def _feature_sentence(
    text: FeatureText, value: float | None, median: float | None
) -> tuple[str, str]:
    if value is None:
        zh = f"{text.label_zh}：缺失"
        en = f"{text.label_en}: missing"
    else:
        try:
            zh = text.reason_zh.format(value=value)
            en = text.reason_en.format(value=value)
        except (ValueError, KeyError, IndexError):
            zh, en = f"{text.label_zh} {value:.4g}", f"{text.label_en} {value:.4g}"
    if median is not None and value is not None and text.shows_median:
        zh += f"，同类中位数 {format_like(text.reason_zh, median)}"
        en += f"; peer median {format_like(text.reason_en, median)}"
    return zh, en


def build_reasons(
    hits: Sequence[Hit],
    deviations: Mapping[str, float],
    values: Mapping[str, Any],
    medians: Mapping[str, Any],
    texts: Mapping[str, FeatureText],
    *,
    max_reasons: int = 5,
    min_deviation: float = 1.5,
) -> list[dict[str, Any]]:
    """Reasons for one manager, most important first, at most ``max_reasons``.

    ``hits``: rule hits; ``deviations``: folded risky-direction deviation per feature (robust
    z, >= 0); ``values``: the manager's raw feature values; ``medians``: its peer group's
    medians; ``texts``: catalog texts per feature. Features already named by a rule hit are not
    repeated; features below ``min_deviation`` are not reasons.
    """
    out: list[dict[str, Any]] = []
    covered: set[str] = set()
    rule_reasons = [hit_dict(h) for h in hits]
    for d in sorted(rule_reasons, key=lambda d: (-d["severity"], str(d.get("code")))):
        out.append(d)
        if d.get("feature"):
            covered.add(str(d["feature"]))
    ranked = sorted(
        ((float(d), name) for name, d in deviations.items() if name in texts),
        key=lambda t: (-t[0], t[1]),
    )
    for dev, name in ranked:
        if len(out) >= max_reasons:
            break
        if dev < min_deviation or name in covered:
            continue
        value = _clean(values.get(name))
        zh, en = _feature_sentence(texts[name], value, _clean(medians.get(name)))
        out.append(
            {
                "kind": "feature",
                "code": name,
                "severity": feature_severity(dev),
                "value": value,
                "zh": zh,
                "en": en,
            }
        )
    return out[:max_reasons]
