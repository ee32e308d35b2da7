"""The digest end of ``watchtower demo`` (``watchtower.demo.demo_alerts`` runs the steps): what
the demo reports and where its nation-wide digest is in the outbox. The days to warn and the open
alerts per tier are warn's queries (:mod:`watchtower.warn.queries`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchtower.values import PROBABILITY_LABEL, probability_text

DEMO_RECIPIENT = "demo@watchtower.localhost"


@dataclass(frozen=True)
class DemoAlerts:
    """Days warned here (those the backtest left), open alerts per tier, digests queued, and
    one HTML digest to open."""

    warn_days: int
    open_by_tier: dict[str, int] = field(default_factory=dict)
    digests: int = 0
    html_path: str | None = None
    #: the most severe open alerts (rows of ``watchtower.warn.list_alerts``)
    top: tuple[dict[str, Any], ...] = ()

    def describe(self) -> str:
        tiers = ", ".join(f"{t} {n}" for t, n in self.open_by_tier.items())
        # the backtest warns its days itself: only the days it left are warned here
        warned = (
            f"{self.warn_days} more days warned"
            if self.warn_days
            else "every day already warned by the backtest"
        )
        return (
            f"{warned}; open alerts: {tiers}; {self.digests} digests in the "
            f"outbox; open {self.html_path}"
        )


def top_lines(rows: tuple[dict[str, Any], ...]) -> list[str]:
    """The most severe open alerts, one line each: tier, score and the calibrated probability
    beside it ("—": too few past labels to calibrate)."""
    if not rows:
        return []
    zh, en = PROBABILITY_LABEL
    lines = [f"Most severe open alerts 最严重的未结预警 (score 评分 / {zh}, {en}):"]
    for r in rows:
        lines.append(
            f"  {r['tier']:<6} {r['register_no']}  {float(r['score']):5.1f} / 100  "
            f"{probability_text(r.get('probability_12m')):>6}  {r.get('manager_name') or ''}"
        )
    return lines


def demo_digest_path(outbox_dir: Path, as_of: dt.date) -> str:
    """Where the demo's nation-wide digest of ``as_of`` is in the outbox (queued by an earlier
    demo run when this one rendered nothing new)."""
    from watchtower.digest.outbox import outbox_paths
    from watchtower.warn import adhoc_subscription

    key = f"adhoc-daily:{as_of.isoformat()}"
    sub = adhoc_subscription(DEMO_RECIPIENT)
    return str(outbox_paths(outbox_dir, DEMO_RECIPIENT, key, sub.key)[1])
