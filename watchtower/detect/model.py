"""The risk model: what the registry stores and what scores a day.

A :class:`RiskModel` bundles the detector config, the feature set it consumed (names,
directions, reason texts from the catalog) and, when incidents were available, a fitted
supervised layer. Scoring day D (:meth:`RiskModel.score`):

1. Peer groups: managers are grouped by ``config.peer_key`` (manager type); groups smaller
   than ``peer_min_size`` are compared with the pooled population. Inside its group a
   manager's deviations (and the medians its reasons quote) are measured against its
   comparison cell, managers of comparable age and size (``config.comparable_by``,
   :mod:`watchtower.detect._cells`); the ensemble is still fitted per peer group.
2. Anomaly: the pyod ensemble is fitted on D's cross-section of each peer group and scores
   it (transductive, like pyod's usual use: "unusual among today's peers"). Only data known
   by D enters, so this cannot leak; the ensemble config, not its fitted state, is what the
   registry versions. The combined score is z-standardized within the group and mapped to
   ``100 * tanh(max(z, 0) / scale)``.
3. Rules: the YAML rules' hits give ``rule_score``, the noisy-or of per-severity points.
4. Supervised: P(incident within the horizon) from the champion's fitted layer, x 100.
5. ``score`` = weighted mean of the available components (weights from the config).
6. Reasons: rule hits, then the most deviating features in their risky direction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from watchtower.contract import META_COLUMNS as CONTRACT_META_COLUMNS
from watchtower.detect._cells import Cells, cell_phrase, comparison_cells
from watchtower.detect.config import DetectConfig
from watchtower.detect.detectors import _robust_center_scale, directional_deviations
from watchtower.detect.reasons import (
    FeatureText,
    Hit,
    build_reasons_batch,
    hit_dict,
)
from watchtower.detect.supervised import SupervisedLayer

__all__ = [
    "DIRECTION_SIGN",
    "META_COLUMNS",
    "PARTITION_KEY",
    "POOLED",
    "CatalogView",
    "RiskModel",
    "catalog_view",
    "feature_columns",
    "peer_deviations",
    "peer_groups",
    "peer_label",
    "whole_peer_groups",
]

DIRECTION_SIGN: dict[str, int] = {"higher_is_riskier": 1, "lower_is_riskier": -1, "neutral": 0}
META_COLUMNS: tuple[str, ...] = CONTRACT_META_COLUMNS  # the feature frame's metadata
POOLED = "*"  # peer group label of managers compared with everyone
#: The metadata column the scheduler's partitions are cut along (manager type): a partition
#: is a set of whole peer groups only when the peer key is this column.
PARTITION_KEY = "manager_type"

RuleHitsFn = Callable[[pd.DataFrame], Mapping[str, Sequence[Hit]]]


def feature_columns(features: pd.DataFrame) -> list[str]:
    """Numeric feature columns of a feature frame (metadata columns excluded), in order."""
    return [
        c
        for c in features.columns
        if c not in META_COLUMNS and pd.api.types.is_numeric_dtype(features[c])
    ]


def peer_label(value: object, size: int, min_size: int) -> object:
    """The peer group of the ``size`` managers whose peer key is ``value``: the value itself,
    or :data:`POOLED` when it is missing or the group is smaller than ``min_size``."""
    if value is None or value == POOLED or (isinstance(value, float) and math.isnan(value)):
        return POOLED
    return value if size >= min_size else POOLED


def peer_groups(features: pd.DataFrame, key: str | None, min_size: int) -> pd.Series:
    """Peer group label per manager: the ``key`` column's value, or :data:`POOLED` for
    managers of small (or unknown) groups (:func:`peer_label`). Index: the frame's index."""
    if key is None or key not in features.columns:
        return pd.Series(POOLED, index=features.index, dtype=object)
    raw = features[key].astype(object).where(features[key].notna(), POOLED)
    labels = {v: peer_label(v, int(n), min_size) for v, n in raw.value_counts().items()}
    return raw.map(labels).astype(object)


def whole_peer_groups(sizes: Mapping[Any, int], key: str | None, min_size: int) -> bool:
    """True when managers whose :data:`PARTITION_KEY` values have these ``sizes`` (value ->
    managers on the day) form peer groups of their own: the peer key is that column and no
    value is pooled. Their scores then depend on their own rows only (each group's statistics
    and ensemble are fitted on the group); a pooled manager is compared with everyone."""
    if key != PARTITION_KEY:
        return False
    return all(peer_label(v, n, min_size) != POOLED for v, n in sizes.items())


def _group_members(groups: pd.Series, label: object) -> np.ndarray:
    """Rows the group's statistics are computed on: everyone for the pooled group."""
    if label == POOLED:
        return np.ones(len(groups), dtype=bool)
    members: np.ndarray = (groups == label).to_numpy()
    return members


def peer_deviations(
    features: pd.DataFrame,
    columns: Sequence[str],
    directions: Sequence[int],
    groups: pd.Series,
    clip: float,
    *,
    cells: Cells | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Folded risky-direction deviations and the peer medians, per manager.

    Returns ``(deviations, medians)``, both managers x ``columns``: deviations are robust z in
    ``[0, clip]`` computed against the manager's comparison cell (``cells``, see
    :func:`watchtower.detect._cells.comparison_cells`; without it the peer group, the pooled
    population for :data:`POOLED`), medians are that cell's medians of the raw values.
    """
    if cells is None:
        cells = comparison_cells(features, groups, (), 1, POOLED)
    X = features[list(columns)].to_numpy(dtype=float)
    d = np.asarray(directions, dtype=float)
    dev = np.zeros_like(X)
    med = np.full_like(X, np.nan)
    labels = cells.labels.to_numpy(dtype=object)
    for label, fit_rows in cells.members.items():
        rows = labels == label
        center, scale = _robust_center_scale(X[fit_rows])
        dev[rows] = directional_deviations(X[rows], center, scale, d, clip)
        med[rows] = center
    idx = features.index
    return (
        pd.DataFrame(dev, index=idx, columns=list(columns)),
        pd.DataFrame(med, index=idx, columns=list(columns)),
    )


def rule_score(hits: Sequence[Hit], points: Mapping[int, float]) -> float:
    """Noisy-or of the hits' severity points, in [0, 100]."""
    keep = 1.0
    for h in hits:
        sev = int(hit_dict(h)["severity"])
        p = points.get(sev, points.get(max(points), 0.0) if points else 0.0)
        keep *= 1.0 - min(max(float(p), 0.0), 100.0) / 100.0
    return 100.0 * (1.0 - keep)


@dataclass
class RiskModel:
    """Config + feature set + optional fitted supervised layer. Picklable (joblib)."""

    config: DetectConfig
    feature_set_version: str
    features: list[str]
    directions: dict[str, int]
    texts: dict[str, FeatureText]
    categories: dict[str, str] = field(default_factory=dict)
    per_fund: list[str] = field(default_factory=list)
    supervised: SupervisedLayer | None = None
    train_start: dt.date | None = None
    train_end: dt.date | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "ensemble+supervised" if self.supervised is not None else "ensemble"

    @property
    def detector_features(self) -> list[str]:
        """Features the detectors see: those with a risk direction (plus neutral ones when
        ``neutral_features: two_sided``)."""
        if self.config.neutral_features == "two_sided":
            return list(self.features)
        return [f for f in self.features if self.directions.get(f, 0) != 0]

    def _directions(self, cols: Sequence[str]) -> list[int]:
        return [int(self.directions.get(c, 0)) for c in cols]

    def check_features(self, features: pd.DataFrame) -> None:
        """Raise ValueError when the frame lacks a feature this model consumes."""
        missing = [f for f in self.features if f not in features.columns]
        if missing:
            raise ValueError(
                f"feature frame lacks {missing} needed by a model of feature set "
                f"{self.feature_set_version}; retrain (watchtower models train)"
            )

    def adjusted(self, features: pd.DataFrame) -> pd.DataFrame:
        """The values detectors compare: fund-level counts per fund when
        ``per_fund_counts`` (see models/detectors.yaml), others unchanged."""
        cfg = self.config
        cols = [c for c in self.per_fund if c in features.columns]
        if not (cfg.per_fund_counts and cols and cfg.size_feature in features.columns):
            return features
        out = features.copy()
        size = features[cfg.size_feature].astype(float).clip(lower=1.0).fillna(1.0)
        out[cols] = features[cols].astype(float).div(size, axis=0)
        return out

    def deviations(self, features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
        """``(deviations, medians, groups)``: folded risky-direction deviations of the detector
        features against the comparison cell (per-fund adjusted where configured), the cell's
        medians of the raw values, and the peer group label per manager (what the ensemble
        is fitted on)."""
        dev, med, groups, _ = self._deviations_cells(features)
        return dev, med, groups

    def comparison_cells(self, features: pd.DataFrame, groups: pd.Series) -> Cells:
        """Each manager's comparison cell inside its peer group (``peer_group.comparable_by``
        of the config; the peer group itself without bandings)."""
        cfg = self.config
        return comparison_cells(features, groups, cfg.comparable_by, cfg.cell_min_size, POOLED)

    def _deviations_cells(
        self, features: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, Cells]:
        self.check_features(features)
        cols = self.detector_features
        groups = peer_groups(features, self.config.peer_key, self.config.peer_min_size)
        cells = self.comparison_cells(features, groups)  # bands of the raw values
        dirs = self._directions(cols)
        clip = self.config.clip
        dev, _ = peer_deviations(self.adjusted(features), cols, dirs, groups, clip, cells=cells)
        _, med = peer_deviations(features, cols, dirs, groups, clip, cells=cells)
        return dev, med, groups, cells

    def detector_input(self, deviations: pd.DataFrame) -> pd.DataFrame:
        """What the ensemble sees: the deviations, or with ``pool: category_max`` the
        largest deviation per catalog category (one column per category)."""
        if self.config.pool != "category_max" or not self.categories:
            return deviations
        cats = [self.categories.get(c, c) for c in deviations.columns]
        return deviations.T.groupby(cats, sort=True).max().T

    def anomaly(
        self,
        features: pd.DataFrame,
        deviations: tuple[pd.DataFrame, pd.Series] | None = None,
        *,
        only: Collection[object] | None = None,
    ) -> pd.DataFrame:
        """Per manager: ``peer_group``, ``anomaly_z`` (combined standardized ensemble score
        within the group) and ``anomaly_score`` in [0, 100]. The ensemble is fitted per peer
        group on the group's deviations (already robust-scaled and folded). ``only``: the
        peer groups to fit and score (others are left at 0), each exactly as without it."""
        if deviations is None:
            dev, _, groups = self.deviations(features)
        else:
            dev, groups = deviations
        X = self.detector_input(dev).to_numpy(dtype=float)
        z = np.zeros(len(features))
        for label in pd.unique(groups):
            if only is not None and label not in only:
                continue
            fit_rows = _group_members(groups, label)
            rows = (groups == label).to_numpy()
            if fit_rows.sum() < 3 or X.shape[1] == 0:
                continue
            ens = self.config.build_ensemble([1] * X.shape[1], standardize=False)
            ens.fit(X[fit_rows])
            z[rows] = ens.standardized_scores(X[rows])
        scale = max(self.config.anomaly_scale, 1e-9)
        score = 100.0 * np.tanh(np.maximum(z, 0.0) / scale)
        return pd.DataFrame(
            {"peer_group": groups.to_numpy(), "anomaly_z": z, "anomaly_score": score},
            index=features.index,
        )

    def supervised_scores(self, deviations: pd.DataFrame) -> pd.Series | None:
        """P(incident within horizon) x 100 per manager, or None without a supervised layer."""
        if self.supervised is None:
            return None
        return pd.Series(
            100.0 * self.supervised.predict_risk(deviations), index=deviations.index, dtype=float
        )

    def _reasons(
        self,
        features: pd.DataFrame,
        hits: Sequence[Sequence[Hit]],
        dev: pd.DataFrame,
        med: pd.DataFrame,
        cells: Cells | None = None,
        cell: pd.Series | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Reasons per manager (rows of ``features``, in order), see
        :func:`~watchtower.detect.reasons.build_reasons_batch`: positional arrays, one sort,
        only the kept reasons rendered. Rows are matched by position, so duplicate register
        numbers are fine; a feature named twice counts once (its deviations are the same).
        ``cells`` and ``cell`` (the rows' cell labels): the medians' comparison cells, named
        in the reasons."""
        cfg = self.config
        peers = None
        if cells is not None and cell is not None:
            labels = {f: (t.label_zh, t.label_en) for f, t in self.texts.items()}
            phrases = {k: cell_phrase(b, labels) for k, b in cells.bands.items()}
            peers = [phrases.get(k) for k in cell.to_numpy(dtype=object)]
        if not dev.columns.is_unique:  # one reason per feature, as a dict per manager gave
            keep = ~dev.columns.duplicated()
            dev, med = dev.loc[:, keep], med.loc[:, keep]
        cols = list(dev.columns)
        values = {c: features[c] for c in cols}
        return build_reasons_batch(
            hits,
            dev.to_numpy(dtype=float),
            cols,
            values,
            med.to_numpy(dtype=float),
            self.texts,
            max_reasons=cfg.max_reasons,
            min_deviation=cfg.min_deviation,
            peers=peers,
        )

    def score(
        self,
        features: pd.DataFrame,
        hits: Mapping[str, Sequence[Hit]] | None = None,
        *,
        only: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Score one day's feature frame (index register_no).

        ``hits``: rule hits per register_no, or None when no rules are configured (the rule
        component is then left out of the weighted mean). Returns one row per manager with
        metadata columns, ``peer_group`` (the comparison cell's label), ``score``,
        ``rule_score``, ``anomaly_score``, ``supervised_score`` (NaN without the layer),
        ``rule_hits`` (list of codes) and ``reasons`` (list of dicts, see
        watchtower.detect.reasons).

        ``only`` (a boolean mask of the frame's rows): return those rows only, the others
        serving as their peers; the ensembles of peer groups without such a row are not
        fitted. The rows returned equal the same rows scored without ``only``: each group
        kept is fitted and scored on all its members, and the other components are per row.
        """
        cfg = self.config
        dev, med, groups, cells = self._deviations_cells(features)
        fit = None if only is None else set(pd.unique(groups[only]))
        anom = self.anomaly(features, (dev, groups), only=fit)
        cell = cells.labels
        if only is not None:
            features, dev, med, anom = features[only], dev[only], med[only], anom[only]
            cell = cell[only]
        sup = self.supervised_scores(dev)
        hit_lists = {r: list(hits.get(r, ())) if hits is not None else [] for r in features.index}
        rules = pd.Series(
            [rule_score(hit_lists[r], cfg.severity_points) for r in features.index],
            index=features.index,
            dtype=float,
        )
        parts: list[tuple[float, pd.Series]] = [(cfg.weight_anomaly, anom["anomaly_score"])]
        if hits is not None:
            parts.append((cfg.weight_rule, rules))
        if sup is not None:
            parts.append((cfg.weight_supervised, sup))
        total_w = sum(w for w, _ in parts) or 1.0
        final = sum((w * s for w, s in parts), pd.Series(0.0, index=features.index)) / total_w
        hit_rows = [hit_lists[r] for r in features.index]
        reasons = self._reasons(features, hit_rows, dev, med, cells, cell)
        out = pd.DataFrame(index=features.index)
        for c in META_COLUMNS:
            out[c] = features[c] if c in features.columns else None
        out["peer_group"] = cell  # the comparison cell: the peer group, or "group|band|..."
        out["score"] = final.clip(0.0, 100.0).round(4)
        out["rule_score"] = rules.round(4) if hits is not None else np.nan
        out["anomaly_score"] = anom["anomaly_score"].round(4)
        out["supervised_score"] = sup.round(4) if sup is not None else np.nan
        out["rule_hits"] = [[hit_dict(h)["code"] for h in hit_lists[r]] for r in features.index]
        out["reasons"] = pd.Series(reasons, index=features.index, dtype=object)
        return out


@dataclass(frozen=True)
class CatalogView:
    """What a model keeps of the feature catalog, per feature name."""

    directions: dict[str, int]
    texts: dict[str, FeatureText]
    categories: dict[str, str]
    per_fund: list[str]


def catalog_view(catalog: Any) -> CatalogView:
    """Directions (+1/-1/0), reason texts, categories and the fund-level counts (unit count,
    source funds/reports) from a feature catalog (``watchtower.features.Catalog``)."""
    directions: dict[str, int] = {}
    texts: dict[str, FeatureText] = {}
    categories: dict[str, str] = {}
    per_fund: list[str] = []
    for spec in catalog:
        categories[spec.name] = str(getattr(spec, "category", spec.name))
        if getattr(spec, "unit", None) == "count" and getattr(spec, "source", None) in (
            "funds",
            "reports",
        ):
            per_fund.append(spec.name)
        directions[spec.name] = DIRECTION_SIGN.get(str(spec.direction), 0)
        texts[spec.name] = FeatureText(
            name=spec.name,
            label_zh=spec.label_zh,
            label_en=spec.label_en,
            reason_zh=spec.reason_zh,
            reason_en=spec.reason_en,
            unit=str(getattr(spec, "unit", "number")),
        )
    return CatalogView(directions, texts, categories, per_fund)


def is_finite(x: Any) -> bool:
    """True for a finite number."""
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
