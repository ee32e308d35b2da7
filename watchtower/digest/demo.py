"""The warn + digest end of ``watchtower demo``: tiers and alerts for the scored days, then
digests in the outbox, and the path of one HTML digest to open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from watchtower.clock import Clock
from watchtower.config import Settings

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


def demo_alerts(settings: Settings, as_of: dt.date, *, clock: Clock) -> DemoAlerts:
    """Run ``warn`` on every scored day up to ``as_of`` not warned yet (calendar order), then
    the subscribers' digests and one nation-wide digest to a demo address (so there is always
    one to open, whatever the synthetic world's provinces)."""
    from watchtower import pipeline
    from watchtower.store import open_store
    from watchtower.store.alerts import TIERS, alerts, manager_tiers
    from watchtower.store.scoring import risk_scores

    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        scored = {d for (d,) in conn.execute(
            sa.select(risk_scores.c.as_of).where(risk_scores.c.as_of <= as_of).distinct()
        )}  # fmt: skip
        warned = {d for (d,) in conn.execute(sa.select(manager_tiers.c.as_of).distinct())}
    days = sorted(scored - warned)
    for day in days:
        pipeline.warn(settings, day, clock=clock)
    subs = pipeline.digest(settings, as_of, clock=clock)
    adhoc = pipeline.digest(settings, as_of, to=DEMO_RECIPIENT, clock=clock)
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(alerts.c.tier, sa.func.count())
                .where(alerts.c.open_key.is_not(None))
                .group_by(alerts.c.tier)
            ).all()
        )
    paths = adhoc.html_paths or subs.html_paths
    html = paths[0] if paths else None
    if html is None:  # queued by an earlier demo run: point at its file
        from watchtower.digest import adhoc_subscription
        from watchtower.digest.outbox import outbox_paths

        key = f"adhoc-daily:{as_of.isoformat()}"
        sub = adhoc_subscription(DEMO_RECIPIENT)
        html = str(outbox_paths(settings.outbox_dir, DEMO_RECIPIENT, key, sub.key)[1])
    return DemoAlerts(
        warn_days=len(days),
        open_by_tier={t: int(counts.get(t, 0)) for t in TIERS},
        digests=subs.rendered + adhoc.rendered,
        html_path=html,
    )
