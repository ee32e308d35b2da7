"""A real HTTP server for the webhook tests (http.server in a thread on 127.0.0.1, port 0):
it records every POST and answers from a script per path (default 200 with a robot's
``{"errcode":0}``), optionally after a pause (to make the client time out)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

OK = (200, '{"errcode":0,"errmsg":"ok"}')


@dataclass
class Posted:
    path: str  # with its query
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Hooks:
    """What the server received, and what it answers: ``script[path]`` is consumed one answer
    per request (then OK); ``delay[path]`` seconds before answering."""

    received: list[Posted] = field(default_factory=list)
    script: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[Posted]:
        return [p for p in self.received if urlsplit(p.path).path == path]


@contextlib.contextmanager
def webhook_server() -> Iterator[tuple[str, Hooks]]:
    """(base URL ``http://127.0.0.1:PORT``, the recorder)."""
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path
            with hooks.lock:
                hooks.received.append(Posted(self.path, dict(self.headers), body))
                answers = hooks.script.get(path) or []
                status, text = answers.pop(0) if answers else OK
            time.sleep(hooks.delay.get(path, 0.0))
            data = text.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hooks
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
