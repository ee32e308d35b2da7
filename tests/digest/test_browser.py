"""Render one digest in headless Chromium at phone and desktop width (PNG for a human look)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.digest.world import AS_OF, CLOCK, build_world
from watchtower import pipeline
from watchtower.config import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def screenshot(html: Path, png: Path, width: int, height: int, profile: Path) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
def test_digest_renders_in_chromium(settings: Settings, tmp_path: Path) -> None:
    build_world(settings)
    out = pipeline.digest(settings, AS_OF, clock=CLOCK)
    # files are named by a hash of (recipient, period, subscription): find it by recipient
    i = next(i for i, q in enumerate(out.queued_for) if q.startswith("gd-gz-jianguan@"))
    html = Path(out.html_paths[i])
    shots = tmp_path / "screenshots"  # look at them: pytest --basetemp=DIR keeps them there
    shots.mkdir()
    for width, height in ((420, 1400), (1000, 1400)):
        png = shots / f"digest-{width}.png"
        png.unlink(missing_ok=True)
        screenshot(html, png, width, height, tmp_path / f"profile-{width}")
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # not a blank page
