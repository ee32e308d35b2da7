"""`watchtower serve` starts a real server (uvicorn) answering on the port it is given."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_on_its_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "WATCHTOWER_HOME": str(tmp_path / "home"),
        "WATCHTOWER_MODEL_KEY_FILE": str(tmp_path / "keys" / "model.key"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("WATCHTOWER_DB_URL", None)
    env.pop("WATCHTOWER_CONSOLE_SECRET", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from watchtower.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "the console did not start in 60 s"
                time.sleep(0.3)
        assert r.status_code == 200 and "csrf_token" in r.text
        assert r.headers["x-frame-options"] == "DENY" and "server" not in r.headers
        assert httpx.get(f"http://127.0.0.1:{port}/api/alerts", timeout=5).status_code == 401
        # the cookie secret was created beside the model key, readable by its owner only
        secret = tmp_path / "keys" / "console.secret"
        assert secret.stat().st_mode & 0o077 == 0 and len(secret.read_text().strip()) >= 32
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout:  # an open pipe left to the collector is a ResourceWarning (an error)
            server.stdout.close()
