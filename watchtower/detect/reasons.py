"""Reasons: why a manager scored what it did, as readable zh/en sentences with real values.

A reason is the JSON object stored in ``risk_scores.reasons`` (see watchtower.store.scoring):
``{"kind": "rule"|"feature", "code", "severity", "value", "zh", "en"}``. Per manager the list
holds the rule hits first (by severity, as rendered by the rules engine) and then the features
that deviate most in their risky direction among the manager's peers, rendered with the
feature catalog's reason template plus the peer median ("实缴比例 12%，同类中位数 65%" /
"paid-in 12% of subscribed capital; peer median 65%").

A change feature (``<base>_change_<k>m``: present - past, ``<base>_logchange_<k>m``:
ln((1 + present) / (1 + past)), see watchtower/features/_changes.py) says what changed: its
template may name ``{past}`` and ``{now}``, the base's values k months ago and on D, and
``{months}`` ("员工人数 6 个月内由 12 人变为 3 人"). The present value is the base feature's
when the caller passes it among ``values``; the past one follows from it and the change.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from watchtower.values import finite_float

__all__ = [
    "FeatureText",
    "Hit",
    "RuleHit",
    "build_reasons",
    "build_reasons_batch",
    "change_fields",
    "feature_severity",
    "format_like",
    "hit_dict",
    "with_ties",
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


_CHANGE_NAME = re.compile(r"^(?P<base>[a-z0-9_]+?)_(?P<kind>logchange|change)_(?P<months>\d+)m$")


def change_fields(text: FeatureText, value: float, present: float | None) -> dict[str, Any]:
    """The template fields of a change feature's reason: ``months``, and ``past`` / ``now``
    where the base's present value is known (none for other features)."""
    change = text.change
    if change is None:
        return {}
    fields: dict[str, Any] = {"months": change[1]}
    if present is not None:
        if change[2]:
            past = math.expm1(math.log1p(present) - value) if present > -1 else math.nan
        else:
            past = present - value
        if math.isfinite(past):
            fields.update(past=past, now=present)
    return fields


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
    def change(self) -> tuple[str, int, bool] | None:
        """(base feature, months, log ratio?) of a change feature, else None."""
        m = _CHANGE_NAME.match(self.name)
        if m is None:
            return None
        return m["base"], int(m["months"]), m["kind"] == "logchange"

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
            "value": finite_float(hit.value),
            "zh": hit.zh,
            "en": hit.en,
        }
        if hit.feature:
            d["feature"] = hit.feature
        return d
    d = dict(hit)
    d["kind"] = "rule"
    d["severity"] = int(d.get("severity") or 0)
    d["value"] = finite_float(d.get("value"))
    return d


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
    text: FeatureText,
    value: float | None,
    median: float | None,
    present: float | None = None,
    peers: tuple[str, str] | None = None,
) -> tuple[str, str]:
    if value is None:
        zh = f"{text.label_zh}：缺失"
        en = f"{text.label_en}: missing"
    else:
        fields = change_fields(text, value, present)
        try:
            zh = text.reason_zh.format(value=value, **fields)
            en = text.reason_en.format(value=value, **fields)
        except (ValueError, KeyError, IndexError):
            zh, en = f"{text.label_zh} {value:.4g}", f"{text.label_en} {value:.4g}"
        if "past" in fields and text.change is not None:
            return zh, en  # past and present say more than a peer median of the change
    if median is not None and value is not None and text.shows_median:
        zh += f"，同类中位数 {format_like(text.reason_zh, median)}"
        en += f"; peer median {format_like(text.reason_en, median)}"
        if peers is not None:  # the median of a comparison cell: say whose it is
            zh += f"（{peers[0]}）"
            en += f" ({peers[1]})"
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
    z, >= 0, finite); ``values``: the manager's raw feature values; ``medians``: its peer
    group's medians; ``texts``: catalog texts per feature. Features already named by a rule
    hit are not repeated; features below ``min_deviation`` are not reasons, nor features whose
    value is missing (NaN: a detector sees it at the peer median, so it is no evidence either
    way).

    One manager is a batch of one: :func:`build_reasons_batch` is the only implementation, so
    the two cannot drift apart.
    """
    columns = list(deviations)
    dev = np.array([[float(deviations[c]) for c in columns]], dtype=np.float64)
    med = np.array([[_nan_if_none(medians.get(c)) for c in columns]], dtype=np.float64)
    one = {c: [values.get(c)] for c in [*values, *columns]}  # bases of change features too
    return build_reasons_batch(
        [hits], dev, columns, one, med, texts, max_reasons=max_reasons, min_deviation=min_deviation
    )[0]


def _present_values(values: Mapping[str, Any], texts: Sequence[FeatureText]) -> dict[str, Any]:
    """Per base feature of the change features among ``texts``: its values, where given."""
    out: dict[str, Any] = {}
    for text in texts:
        change = text.change
        if change is not None and change[0] in values:
            out[change[0]] = np.asarray(values[change[0]], dtype=object)
    return out


def _nan_if_none(value: Any) -> float:
    v = finite_float(value)
    return math.nan if v is None else v


def _rule_part(hits: Sequence[Hit]) -> tuple[list[dict[str, Any]], set[str]]:
    """Rule reasons by severity then code, and the features they already name."""
    rule_reasons = sorted(
        (hit_dict(h) for h in hits), key=lambda d: (-d["severity"], str(d.get("code")))
    )
    return rule_reasons, {str(d["feature"]) for d in rule_reasons if d.get("feature")}


def build_reasons_batch(
    hits: Sequence[Sequence[Hit]],
    deviations: NDArray[np.float64],
    columns: Sequence[str],
    values: Mapping[str, Any],
    medians: NDArray[np.float64],
    texts: Mapping[str, FeatureText],
    *,
    max_reasons: int = 5,
    min_deviation: float = 1.5,
    peers: Sequence[tuple[str, str] | None] | None = None,
) -> list[list[dict[str, Any]]]:
    """Reasons for many managers at once (see :func:`build_reasons` for one, and for the
    rules: rule hits first by severity then code, then the most deviating features).

    ``hits``: rule hits per manager (n lists); ``deviations`` and ``medians``: arrays
    (n, p) by position, columns ``columns``; ``values``: per feature name, the managers' raw
    values as an array-like of length n (only the columns a kept reason names are read, and
    the base feature of a kept change feature when given: its present value).
    The candidate features (deviation >= ``min_deviation``, with a catalog text, not named by
    a rule hit) are ranked per manager in one sort (manager, deviation descending, name) and
    only the kept ones are rendered. Deviations must be finite (peer deviations are).
    ``peers``: per manager the (zh, en) description of the comparison cell its medians are
    from (:func:`watchtower.detect._cells.cell_phrase`), None for a whole peer group.
    """
    n = len(hits)
    dev = np.asarray(deviations, dtype=np.float64)
    med = np.asarray(medians, dtype=np.float64)
    cols = list(columns)
    if dev.shape != (n, len(cols)) or med.shape != dev.shape:
        raise ValueError(f"deviations {dev.shape} / medians {med.shape} != ({n}, {len(cols)})")
    if not np.isfinite(dev).all():
        raise ValueError("deviations must be finite")
    out: list[list[dict[str, Any]]] = []
    keep_feat = np.zeros(n, dtype=np.int64)
    candidate = dev >= min_deviation
    candidate &= np.array([c in texts for c in cols], dtype=bool)[None, :]
    position = {c: j for j, c in enumerate(cols)}
    for i, manager_hits in enumerate(hits):
        rules, covered = _rule_part(manager_hits) if manager_hits else ([], set())
        out.append(rules)
        keep_feat[i] = max(0, max_reasons - len(rules))
        for name in covered:
            j = position.get(name)
            if j is not None:
                candidate[i, j] = False
    for j in np.flatnonzero(candidate.any(axis=0)).tolist():  # no reason from a missing value
        raw_j = np.asarray(values[cols[j]], dtype=object)
        candidate[:, j] &= np.array([finite_float(v) is not None for v in raw_j], dtype=bool)
    rows, idx = np.nonzero(candidate)
    if len(rows):
        # Python's sort key (-deviation, name): rank of the names in str order.
        name_rank = np.empty(len(cols), dtype=np.int64)
        name_rank[sorted(range(len(cols)), key=lambda j: cols[j])] = np.arange(len(cols))
        d = dev[rows, idx]
        order = np.lexsort((name_rank[idx], -d, rows))
        rows, idx, d = rows[order], idx[order], d[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        sizes = np.diff(np.r_[starts, len(rows)])
        rank_in_row = np.arange(len(rows)) - np.repeat(starts, sizes)
        kept = rank_in_row < keep_feat[rows]
        rows, idx, d = rows[kept], idx[kept], d[kept]
        raw = {j: np.asarray(values[cols[j]], dtype=object) for j in np.unique(idx).tolist()}
        bases = _present_values(values, [texts[cols[j]] for j in np.unique(idx).tolist()])
        for i, j, dv in zip(rows.tolist(), idx.tolist(), d.tolist(), strict=True):
            name = cols[j]
            value = finite_float(raw[j][i])
            change = texts[name].change
            present = bases[change[0]][i] if change and change[0] in bases else None
            zh, en = _feature_sentence(
                texts[name],
                value,
                finite_float(med[i, j]),
                finite_float(present),
                peers[i] if peers is not None else None,
            )
            out[i].append(
                {
                    "kind": "feature",
                    "code": name,
                    "severity": feature_severity(dv),
                    "value": value,
                    "zh": zh,
                    "en": en,
                }
            )
    return [r[:max_reasons] if len(r) > max_reasons else r for r in out]


def with_ties(
    reasons: Sequence[Mapping[str, Any]],
    ties: Mapping[str, Sequence[tuple[str, str]]],
    labels: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """A manager's reasons with each network feature's reason (``ties``: feature -> the
    (other manager, kind of person shared) pairs it counted) naming the kinds of person
    shared, from ``labels`` (kind -> (zh, en)), and carrying the other managers' register
    numbers as ``linked``. The other managers are not named in the text: a reason is shown
    to whoever sees this manager, while the names of related managers are shown only within
    the reader's scope (the manager page, ``watchtower managers show``)."""
    out = []
    for reason in reasons:
        pairs = ties.get(str(reason.get("code"))) if reason.get("kind") == "feature" else None
        if not pairs:
            out.append(dict(reason))
            continue
        kinds = sorted({kind for _, kind in pairs}, key=list(labels).index)
        zh = "、".join(labels[k][0] for k in kinds)
        en = ", ".join(labels[k][1] for k in kinds)
        out.append(
            {
                **reason,
                "zh": f"{reason.get('zh', '')}(共用{zh})",
                "en": f"{reason.get('en', '')} (shared {en})",
                "linked": sorted({other for other, _ in pairs}),
            }
        )
    return out
