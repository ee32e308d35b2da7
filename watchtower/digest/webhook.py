"""Posting to webhooks: a small ``Poster`` interface, its HTTP implementation, and the one
place that chooses it (:func:`poster_for`), as :mod:`watchtower.digest.send` does for SMTP.

The contract the push ledger relies on: :meth:`Poster.post` returns the server's answer,
whatever its status (a 500 or a 400 is an answer, not an exception), and raises ``OSError``
when no answer came (refused, reset, timed out, DNS). Redirects are not followed: a robot
URL that redirects is a wrong URL, and following it would post the alert somewhere else.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

#: How much of an answer's body is kept (the ledger records it for a refused push).
ANSWER_CHARS = 2000


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: str  # its first ANSWER_CHARS characters

    @property
    def errcode(self) -> object:
        """The ``errcode`` of a robot's JSON answer (WeCom and DingTalk answer 200 with
        ``{"errcode": 0}``, or a non-zero code when they refuse); None when there is none."""
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return None
        return parsed.get("errcode") if isinstance(parsed, dict) else None


class Poster(Protocol):
    """Posts one JSON body to one URL; returns the answer, raises OSError without one."""

    def post(self, url: str, body: bytes) -> HttpAnswer: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx comes back as an HTTPError: an answer, recorded


class HttpPoster:
    """HTTP(S) POST with ``urllib`` (no extra dependency), a timeout per attempt, the system's
    trust store for HTTPS and the environment's proxy settings (``https_proxy``, ``no_proxy``;
    ``proxies`` replaces them, ``{}`` for none)."""

    def __init__(self, *, timeout: float = 10.0, proxies: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, url: str, body: bytes) -> HttpAnswer:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "watchtower"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return HttpAnswer(int(response.status), _text(response.read(ANSWER_CHARS * 4)))
        except urllib.error.HTTPError as exc:  # an answer with a status >= 300
            with exc:
                return HttpAnswer(int(exc.code), _text(exc.read(ANSWER_CHARS * 4)))
        except http.client.HTTPException as exc:  # a garbled answer: as good as none
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:ANSWER_CHARS]


def poster_for(timeout: float = 10.0) -> Poster:
    """The poster the pipeline uses for webhooks."""
    return HttpPoster(timeout=timeout)
