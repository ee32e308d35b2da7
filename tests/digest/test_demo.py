"""The demo's warn + digest end: alerts in every tier, digests in the outbox, a path to open."""

from __future__ import annotations

from pathlib import Path

from tests.digest.world import AS_OF, CLOCK, MANAGERS, build_world
from tests.warn.scores import insert_scores, score_row
from watchtower.config import Settings
from watchtower.demo import demo_alerts
from watchtower.store import open_store


def test_demo_alerts(settings: Settings) -> None:
    build_world(settings)
    # one more scored day, not warned yet, with a blue manager in Beijing
    nxt = AS_OF.replace(day=AS_OF.day + 1)
    rows = [
        score_row(reg, v[2][-1], as_of=nxt, province=v[0], city=v[1]) for reg, v in MANAGERS.items()
    ]
    insert_scores(open_store(settings.db_url), rows)
    got = demo_alerts(settings, nxt, clock=CLOCK)
    assert got.warn_days == 1
    assert all(n > 0 for n in got.open_by_tier.values()), got.open_by_tier
    assert got.html_path and Path(got.html_path).exists()
    again = demo_alerts(settings, nxt, clock=CLOCK)  # re-run: nothing new, still a path
    assert again.warn_days == 0 and again.html_path == got.html_path
