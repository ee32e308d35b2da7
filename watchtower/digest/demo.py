"""The reads behind the warn + digest end of ``watchtower demo`` (``watchtower.demo.demo_alerts``
runs the steps): the scored days not warned yet, open alerts per tier, and where the demo's
nation-wide digest is in the outbox."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

DEMO_RECIPIENT = "demo@watchtower.localhost"


@dataclass(frozen=True)
class DemoAlerts:
    """Warn runs made, open alerts per tier, digests queued, and one HTML digest to open."""

    warn_days: int
    open_by_tier: dict[str, int] = field(default_factory=dict)
    digests: int = 0
    html_path: str | None = None

    def describe(self) -> str:
        tiers = ", ".join(f"{t} {n}" for t, n in self.open_by_tier.items())
        return (
            f"{self.warn_days} warn runs; open alerts: {tiers}; {self.digests} digests in the "
            f"outbox; open {self.html_path}"
        )


def days_to_warn(engine: sa.Engine, as_of: dt.date) -> list[dt.date]:
    """Scored days up to ``as_of`` without tiers yet, oldest first (warn walks them in order)."""
    from watchtower.store.alerts import manager_tiers
    from watchtower.store.scoring import risk_scores

    with engine.connect() as conn:
        scored = set(
            conn.execute(
                sa.select(risk_scores.c.as_of).where(risk_scores.c.as_of <= as_of).distinct()
            ).scalars()
        )
        warned = set(conn.execute(sa.select(manager_tiers.c.as_of).distinct()).scalars())
    return sorted(scored - warned)


def open_alerts_by_tier(engine: sa.Engine) -> dict[str, int]:
    """Open alerts per tier, every tier present (0 when none)."""
    from watchtower.store.alerts import TIERS, alerts

    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(alerts.c.tier, sa.func.count())
                .where(alerts.c.open_key.is_not(None))
                .group_by(alerts.c.tier)
            ).all()
        )
    return {t: int(counts.get(t, 0)) for t in TIERS}


def demo_digest_path(outbox_dir: Path, as_of: dt.date) -> str:
    """Where the demo's nation-wide digest of ``as_of`` is in the outbox (queued by an earlier
    demo run when this one rendered nothing new)."""
    from watchtower.digest import adhoc_subscription
    from watchtower.digest.outbox import outbox_paths

    key = f"adhoc-daily:{as_of.isoformat()}"
    sub = adhoc_subscription(DEMO_RECIPIENT)
    return str(outbox_paths(outbox_dir, DEMO_RECIPIENT, key, sub.key)[1])
