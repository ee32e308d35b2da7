"""Comparison cells: the managers a manager's deviations are measured against.

A peer group (manager type) mixes a three-month-old manager with one fund and a
twelve-year-old one with eighty; measured against the group's median, each is unusual for
its age or size, not for risk. ``peer_group.comparable_by`` (models/detectors.yaml) cuts
each peer group into cells by fixed bands of a few features (e.g. years since registration,
funds filed), so the statistics a manager is compared with are those of managers of
comparable size and age.

The cell is hierarchical: a manager is compared with its full cell (group x band 1 x band 2
...) when that cell has at least ``cell_min_size`` managers, else with its cell without the
last banding, ..., else with its peer group. A missing (NaN) banding value stops the manager
at the level above that banding: no band is guessed for it. Cells live inside a peer group
(the pooled group's cells inside the whole population, which pooled managers are compared
with), so a partition of whole peer groups decides its cells from its own rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from watchtower.detect.config import Banding

__all__ = [
    "UNKNOWN_BAND",
    "Cells",
    "band_indices",
    "band_text",
    "cell_phrase",
    "comparison_cells",
]

#: band index of a missing (NaN) value: the manager stops at the level above that banding
UNKNOWN_BAND = -1


@dataclass(frozen=True)
class Cells:
    """Per manager its cell label (``labels``, the frame's index) and, per label, the rows its
    statistics are computed on (``members``: a boolean mask over the frame's rows) and the
    bands that define it (``bands``: (banding, band) pairs, none for a whole peer group)."""

    labels: pd.Series
    members: dict[object, np.ndarray]
    bands: dict[object, tuple[tuple[Banding, int], ...]] = field(default_factory=dict)


def band_indices(values: pd.Series, edges: Sequence[float]) -> np.ndarray:
    """Band per value: 0 below ``edges[0]``, i for ``[edges[i-1], edges[i])``, len(edges) from
    the last edge on; :data:`UNKNOWN_BAND` for a missing value."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bands: np.ndarray = np.searchsorted(np.asarray(edges, dtype=float), x, side="right")
    bands = bands.astype(np.int64)
    bands[~np.isfinite(x)] = UNKNOWN_BAND
    return bands


def band_text(banding: Banding, band: int) -> str:
    """A band as a supervisor reads it: ``years_since_registration<2``, ``fund_count[5,20)``,
    ``fund_count>=20``."""
    edges = [f"{e:g}" for e in banding.edges]
    if band <= 0:
        return f"{banding.feature}<{edges[0]}"
    if band >= len(edges):
        return f"{banding.feature}>={edges[-1]}"
    return f"{banding.feature}[{edges[band - 1]},{edges[band]})"


def _label(group: object, bandings: Sequence[Banding], bands: tuple[int, ...]) -> object:
    """The cell's label: the peer group alone, or ``group|band|band`` (a string)."""
    if not bands:
        return group
    return "|".join([str(group), *(band_text(b, k) for b, k in zip(bandings, bands, strict=False))])


def _level_members(
    in_group: np.ndarray, bands: np.ndarray, own: np.ndarray, level: int
) -> np.ndarray:
    """Rows of the group whose first ``level`` bands are ``own``'s."""
    rows = in_group.copy()
    for j in range(level):
        rows &= bands[:, j] == own[j]
    return rows


def comparison_cells(
    features: pd.DataFrame,
    groups: pd.Series,
    comparable_by: Sequence[Banding],
    min_size: int,
    pooled: object,
) -> Cells:
    """The comparison cell of every manager of ``features`` (see the module docstring).

    ``groups``: the peer group per manager (``pooled`` for managers compared with everyone);
    ``comparable_by``: the bandings, coarsest fallback last dropped first; a banding whose
    feature is not in the frame counts as missing for everyone. With no banding every cell
    is its peer group, whose members are the group (everyone for ``pooled``)."""
    n = len(features)
    bands = np.column_stack(
        [
            band_indices(features[b.feature], b.edges)
            if b.feature in features.columns
            else np.full(n, UNKNOWN_BAND, dtype=np.int64)
            for b in comparable_by
        ]
        or [np.zeros((n, 0), dtype=np.int64)]
    )
    group_values = groups.to_numpy(dtype=object)
    labels = np.empty(n, dtype=object)
    members: dict[object, np.ndarray] = {}
    cell_bands: dict[object, tuple[tuple[Banding, int], ...]] = {}
    for group in pd.unique(group_values):
        mine = group_values == group
        in_group = np.ones(n, dtype=bool) if group == pooled else mine
        for key in {tuple(row) for row in bands[mine].tolist()}:
            own = np.asarray(key, dtype=np.int64)
            known = len(key) if (own != UNKNOWN_BAND).all() else int(np.argmax(own < 0))
            level, rows = 0, in_group
            for depth in range(known, 0, -1):
                candidate = _level_members(in_group, bands, own, depth)
                if candidate.sum() >= min_size:
                    level, rows = depth, candidate
                    break
            label = _label(group, comparable_by, tuple(key[:level]))
            members[label] = rows
            cell_bands[label] = tuple(zip(comparable_by, key[:level], strict=False))
            labels[mine & (bands == own).all(axis=1)] = label
    return Cells(pd.Series(labels, index=features.index, dtype=object), members, cell_bands)


def _band_range(banding: Banding, band: int) -> tuple[str, str]:
    """A band's range in zh and en: ``<2``, ``5 至 20 以下`` / ``5 to under 20``, ``≥20``."""
    edges = [f"{e:g}" for e in banding.edges]
    if band <= 0:
        return f"<{edges[0]}", f"<{edges[0]}"
    if band >= len(edges):
        return f"≥{edges[-1]}", f"≥{edges[-1]}"
    low, high = edges[band - 1], edges[band]
    return f"{low} 至 {high} 以下", f"{low} to under {high}"


def cell_phrase(
    bands: Sequence[tuple[Banding, int]], labels: Mapping[str, tuple[str, str]]
) -> tuple[str, str] | None:
    """The (zh, en) description of a cell's bands for the peer median a reason quotes, e.g.
    ``登记年限 ≥5、备案基金数 5 至 20 以下`` / ``years since registration ≥5, funds filed 5 to
    under 20`` (``labels``: feature -> its catalog labels); None for a whole peer group."""
    if not bands:
        return None
    parts = [(labels.get(b.feature, (b.feature, b.feature)), _band_range(b, k)) for b, k in bands]
    zh = "、".join(f"{names[0]} {span[0]}" for names, span in parts)
    en = ", ".join(f"{names[1][:1].lower()}{names[1][1:]} {span[1]}" for names, span in parts)
    return zh, en
