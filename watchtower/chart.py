"""Tier charts: one module for the digests' managers-per-tier bars and the console's score
and tier timeline, so both draw the tiers in the same colours and on the same scales.

- :func:`tier_count_rows`: per warn run, each tier's share of the busiest run (the digest
  draws them as table cells, since mail clients drop SVG: see :mod:`watchtower.digest.render`);
- :func:`score_timeline_svg`: one manager's score per run day over the tier bands of the
  policy's thresholds, each day's dot in the tier it reached, as an SVG document built with
  :mod:`xml.etree.ElementTree` (so every text and attribute is escaped and the markup is
  well-formed). It scales to its container (``viewBox``, ``width="100%"``), carries a title,
  a description and a label per point for screen readers, and needs no script or inline
  style (the console's CSP forbids both).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchtower.store.alerts import TIERS

__all__ = [
    "NO_TIER_COLOR",
    "TIER_COLORS",
    "ScorePoint",
    "score_timeline_svg",
    "tier_count_rows",
]

TIER_COLORS: dict[str, tuple[str, str]] = {  # background, text
    "red": ("#c62828", "#ffffff"),
    "orange": ("#e65100", "#ffffff"),
    "yellow": ("#f9a825", "#1f2937"),
    "blue": ("#1565c0", "#ffffff"),
}
#: A day scored below every tier.
NO_TIER_COLOR = "#9ca3af"


def _share(n: int, peak: int) -> float:
    """``n`` as a percentage of ``peak`` (one decimal): the bars' one scale."""
    return round(100 * n / peak, 1) if peak else 0.0


def tier_count_rows(
    runs: Sequence[tuple[dt.date, Mapping[str, int]]],
) -> list[dict[str, Any]]:
    """Per run (day, managers per tier): its date (``MM-DD`` when there are several runs),
    total, one bar per tier present (``tier``, ``n``, ``pct`` of the busiest run's total)
    and the ``rest`` of the width."""
    peak = max((sum(counts.values()) for _, counts in runs), default=0)
    return [
        {
            "date": day.isoformat()[5:] if len(runs) > 1 else day.isoformat(),
            "total": sum(counts.values()),
            "bars": [
                {"tier": t, "n": counts.get(t, 0), "pct": _share(counts[t], peak)}
                for t in TIERS
                if peak and counts.get(t)
            ],
            "rest": round(100 - 100 * sum(counts.values()) / peak, 1) if peak else 100,
        }
        for day, counts in runs
    ]


@dataclass(frozen=True)
class ScorePoint:
    """One run day of a manager: its score (0-100) and the tier it reached (None: below
    every tier)."""

    as_of: dt.date
    score: float
    tier: str | None


# The drawing's own units; the browser scales them to the page's width (about 0.75 on a
# 390 px phone, so the 12-13 unit labels stay legible there).
_W, _H = 480.0, 220.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 34.0, 64.0, 10.0, 26.0


def _y(score: float) -> float:
    score = min(100.0, max(0.0, score))
    return _TOP + (100.0 - score) / 100.0 * (_H - _TOP - _BOTTOM)


def _x_of(points: Sequence[ScorePoint]) -> Callable[[dt.date], float]:
    first, last = points[0].as_of, points[-1].as_of
    span = (last - first).days
    width = _W - _LEFT - _RIGHT

    def x(day: dt.date) -> float:
        if span == 0:
            return _LEFT + width / 2
        return _LEFT + (day - first).days / span * width

    return x


def _n(value: float) -> str:
    return f"{value:.1f}"


def _bands(svg: ET.Element, thresholds: Mapping[str, float], label: Callable[[str], str]) -> None:
    """One band per tier, from its threshold up to the next tier's (red: to 100)."""
    g = ET.SubElement(svg, "g", {"class": "bands"})
    upper = 100.0
    for tier in TIERS:
        low = float(thresholds[tier])
        top, bottom = _y(upper), _y(low)
        rect = ET.SubElement(
            g,
            "rect",
            {
                "x": _n(_LEFT),
                "y": _n(top),
                "width": _n(_W - _LEFT - _RIGHT),
                "height": _n(max(0.0, bottom - top)),
                "fill": TIER_COLORS[tier][0],
                "fill-opacity": "0.14",
            },
        )
        ET.SubElement(rect, "title").text = f"{label(tier)} ≥ {low:g}"
        text = ET.SubElement(
            g,
            "text",
            {
                "x": _n(_W - _RIGHT + 4),
                "y": _n((top + bottom) / 2 + 4),
                "font-size": "13",
                "fill": TIER_COLORS[tier][0],
            },
        )
        text.text = f"{label(tier)} {low:g}"
        tick = ET.SubElement(
            g, "text", {"x": _n(_LEFT - 4), "y": _n(bottom + 4), "font-size": "12"}
        )
        tick.set("text-anchor", "end")
        tick.text = f"{low:g}"
        upper = low


def _axes(svg: ET.Element, points: Sequence[ScorePoint], x: Callable[[dt.date], float]) -> None:
    g = ET.SubElement(svg, "g", {"class": "axes", "fill": "#4b5563"})
    ET.SubElement(
        g,
        "line",
        {
            "x1": _n(_LEFT),
            "y1": _n(_y(0)),
            "x2": _n(_W - _RIGHT),
            "y2": _n(_y(0)),
            "stroke": "#9ca3af",
        },
    )
    days = [points[0].as_of] if len(points) == 1 else [points[0].as_of, points[-1].as_of]
    for i, day in enumerate(days):
        anchor = "middle" if len(days) == 1 else ("start" if i == 0 else "end")
        t = ET.SubElement(g, "text", {"x": _n(x(day)), "y": _n(_H - 8), "font-size": "12"})
        t.set("text-anchor", anchor)
        t.text = day.isoformat()
    for score in (0, 100):
        t = ET.SubElement(g, "text", {"x": _n(_LEFT - 4), "y": _n(_y(score) + 4)})
        t.set("font-size", "12")
        t.set("text-anchor", "end")
        t.text = str(score)


def score_timeline_svg(
    points: Sequence[ScorePoint],
    thresholds: Mapping[str, float],
    *,
    title: str,
    desc: str,
    tier_label: Callable[[str | None], str],
    point_label: Callable[[ScorePoint], str],
    element_id: str = "score-chart",
) -> str:
    """The manager's score and tier per run day as an SVG element (text), oldest day at the
    left; ``thresholds`` (tier -> lowest score) draw the bands. ``title`` and ``desc`` name
    and describe it (``aria-labelledby``); ``tier_label`` and ``point_label`` give the
    words (the caller's language). Nothing but the bands and axes when there are no points."""
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {_W:g} {_H:g}",
            "width": "100%",
            "role": "img",
            "aria-labelledby": f"{element_id}-title {element_id}-desc",
            "id": element_id,
            "class": "chart",
            "font-family": "sans-serif",
        },
    )
    ET.SubElement(svg, "title", {"id": f"{element_id}-title"}).text = title
    ET.SubElement(svg, "desc", {"id": f"{element_id}-desc"}).text = desc
    _bands(svg, thresholds, lambda t: tier_label(t))
    if points:
        x = _x_of(points)
        _axes(svg, points, x)
        ET.SubElement(
            svg,
            "polyline",
            {
                "points": " ".join(f"{_n(x(p.as_of))},{_n(_y(p.score))}" for p in points),
                "fill": "none",
                "stroke": "#111827",
                "stroke-width": "1.5",
            },
        )
        dots = ET.SubElement(svg, "g", {"class": "days"})
        for p in points:
            color = TIER_COLORS[p.tier][0] if p.tier in TIER_COLORS else NO_TIER_COLOR
            dot = ET.SubElement(
                dots,
                "circle",
                {
                    "cx": _n(x(p.as_of)),
                    "cy": _n(_y(p.score)),
                    "r": "3.5",
                    "fill": color,
                    "stroke": "#ffffff",
                    "data-tier": p.tier or "none",
                    "aria-label": point_label(p),
                },
            )
            ET.SubElement(dot, "title").text = point_label(p)
    return ET.tostring(svg, encoding="unicode", short_empty_elements=True)
