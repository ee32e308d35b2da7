"""A local AMAC stand-in: replays recorded real answers on 127.0.0.1, with faults on request.

Routes come from ``tests/fixtures/replay/routes.json`` (see its README): list endpoints page
the recorded rows at the requested size, detail routes serve the recorded detail page for ids
of the list. Every request is logged as a :class:`Hit` with the exact bytes sent back, so
tests can byte-compare what landed on disk. :meth:`ReplayServer.inject` queues faults (an
HTTP status with headers, or a connection reset) answered before the normal replay.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROUTES = FIXTURES / "replay" / "routes.json"


@dataclass(frozen=True)
class Fault:
    """One injected answer. ``status=None`` resets the connection without answering."""

    status: int | None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    path_prefix: str = ""  # only requests whose path starts with this take the fault


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    status: int | None  # None: connection reset
    sent: bytes

    @property
    def page(self) -> int | None:
        return int(self.query["page"]) if "page" in self.query else None


@dataclass
class _Recorded:
    lists: dict[str, list[Any]] = field(default_factory=dict)
    details: dict[str, tuple[bytes, set[str]]] = field(default_factory=dict)
    envelope_keys: list[str] = field(default_factory=list)


def _load(routes: Path) -> _Recorded:
    spec = json.loads(routes.read_text(encoding="utf-8"))
    recorded = _Recorded(envelope_keys=list(spec["envelope_keys"]))
    for path, rel in spec["lists"].items():
        doc = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
        recorded.lists[path] = list(doc["content"])
    for prefix, detail in spec["details"].items():
        rows = recorded.lists[detail["ids_from"]]
        ids = {str(r.get("id") or str(r.get("url", "")).removesuffix(".html")) for r in rows}
        recorded.details[prefix] = ((FIXTURES / detail["page"]).read_bytes(), ids)
    return recorded


def page_bytes(rows: list[Any], page: int, size: int, keys: list[str]) -> bytes:
    """Page ``page`` (0-based) of ``rows`` in AMAC's envelope, serialised as the API does."""
    total_pages = math.ceil(len(rows) / size) if rows else 0
    content = rows[page * size : (page + 1) * size]
    values: dict[str, Any] = {
        "content": content,
        "totalElements": len(rows),
        "last": page >= total_pages - 1,
        "totalPages": total_pages,
        "sort": None,
        "first": page == 0,
        "numberOfElements": len(content),
        "size": size,
        "number": page,
    }
    envelope = {k: values[k] for k in keys}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ReplayServer:
    """``with ReplayServer() as amac: ... amac.url ...`` (the ``amac-infodisc`` root)."""

    def __init__(self, routes: Path = ROUTES) -> None:
        self.recorded = _load(routes)
        self.hits: list[Hit] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/amac-infodisc"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self.hits.clear()
            self._faults.clear()

    def list_hits(self, api_path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == f"/amac-infodisc/api/{api_path}"]

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix):
                    self._faults.remove(fault)
                    return fault
        return None

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def _answer(self, method: str, path: str, query: dict[str, str]) -> tuple[int, bytes, str]:
        rec = self.recorded
        if path in rec.lists:
            if method != "POST":
                return 405, b'{"error":"POST only"}', "application/json"
            page, size = int(query.get("page", "0")), int(query.get("size", "20"))
            body = page_bytes(rec.lists[path], page, size, rec.envelope_keys)
            return 200, body, "application/json;charset=UTF-8"
        for prefix, (html, ids) in rec.details.items():
            if path.startswith(prefix) and method == "GET":
                rid = path[len(prefix) :].removesuffix(".html")
                if rid in ids:
                    return 200, html, "text/html"
        return 404, b"<html><body>404 Not Found</body></html>", "text/html"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server and httpx's pool

            def log_message(self, format: str, *args: Any) -> None:
                return None  # quiet test output

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = replay._take_fault(parts.path)
                if fault is not None and fault.status is None:
                    # RST instead of FIN: the client sees a reset, not a clean close.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    replay._record(Hit(method, parts.path, query, body, None, b""))
                    return
                if fault is not None:
                    assert fault.status is not None
                    status, sent, ctype = fault.status, fault.body, "text/plain"
                    headers = fault.headers
                else:
                    status, sent, ctype = replay._answer(method, parts.path, query)
                    headers = ()
                # Recorded before answering: once the client has its answer, the hit is there
                # (recording after the write raced with the test's assertion).
                replay._record(Hit(method, parts.path, query, body, status, sent))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(sent)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(sent)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler
