"""A real browser on a real server: the console app served by uvicorn in a thread, driven by
Debian's chromium through chromium-driver (Selenium). Nothing is downloaded: both executables
come from the machine's packages (``.ci/run`` installs them on a fresh machine)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def have_browser() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free local port for the block; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/login", timeout=2)
            break
        except httpx.TransportError:
            assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
            time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def chromium(width: int, height: int, profile: Path) -> Iterator[webdriver.Chrome]:
    """Headless chromium whose viewport is ``width`` CSS pixels wide.

    Headless windows cannot be narrower than 500 px, so phone widths are set by device
    emulation (what the browser's own device toolbar does), not by the window size.
    """
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=zh-CN",
        f"--user-data-dir={profile}",
        f"--window-size={max(width, 500)},{height}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        driver.implicitly_wait(5)
        yield driver
    finally:
        driver.quit()


def full_page_png(driver: webdriver.Chrome, path: Path) -> bytes:
    """A screenshot of the whole page (not just the viewport), written to ``path``."""
    import base64

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    data = base64.b64decode(shot["data"])
    path.write_bytes(data)
    return data
