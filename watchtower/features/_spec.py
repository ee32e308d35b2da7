"""The declarations a catalog is made of (:class:`FeatureSpec`, :class:`Catalog`).

Apart from the loader (:mod:`watchtower.features.catalog`, which checks a catalog against the
engine) and the engine (:mod:`watchtower.features.engine`, which computes one), so that
neither imports the other back: the loader imports the engine, both import this.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from watchtower.config import ConfigError

Direction = Literal["higher_is_riskier", "lower_is_riskier", "neutral"]


class CatalogError(ConfigError):
    """The catalog is malformed; the message names the file, the feature and the fix."""


@dataclass(frozen=True)
class FeatureSpec:
    """One declared feature. ``peer_of`` names the base feature of a peer percentile."""

    name: str
    label_zh: str
    label_en: str
    description: str
    category: str
    unit: str
    direction: Direction
    window: str
    source: str
    reason_zh: str
    reason_en: str
    peer_relative: bool = False
    peer_of: str | None = None

    def explain(
        self,
        value: float,
        lang: str = "zh",
        *,
        past: float | None = None,
        now: float | None = None,
    ) -> str | None:
        """The reason sentence for ``value`` (None when the value is missing/NaN).

        ``lang`` is ``"zh"`` or ``"en"``; the template's ``{value}`` takes the value with the
        declared format (``{value:.0%}`` -> ``12%``). A change feature's template also names
        ``{past}`` and ``{now}`` (its base's values at R and on D) and ``{months}`` (its
        window); without them it says the label and the change.
        """
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        template = self.reason_zh if lang == "zh" else self.reason_en
        months = int(self.window[:-1]) if self.window.endswith("m") else None
        try:
            return template.format(value=value, past=past, now=now, months=months)
        except (TypeError, ValueError):  # a past or present value not given
            label = self.label_zh if lang == "zh" else self.label_en
            return f"{label} {value:+.3g}"


@dataclass(frozen=True)
class Catalog:
    """A validated catalog. ``version`` is the feature set version recorded with snapshots."""

    version: str
    features: tuple[FeatureSpec, ...]

    @property
    def names(self) -> list[str]:
        """Feature names in declaration order (the column order of computed frames)."""
        return [f.name for f in self.features]

    def __getitem__(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.features)

    def __iter__(self) -> Iterator[FeatureSpec]:
        return iter(self.features)

    def __len__(self) -> int:
        return len(self.features)
