"""A store for the console tests: the digest tests' world (managers in 广东, 深圳, 上海 and
北京, hostile names included), and console accounts of two districts and one analyst."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.digest.world import CLOCK, build_world
from watchtower import pipeline
from watchtower.config import Settings

PASSWORD = "correct horse battery staple"
#: username -> (role, jurisdictions)
ACCOUNTS: dict[str, tuple[str, list[str]]] = {
    "gd": ("supervisor", ["廣東省"]),  # any spelling, stored canonical
    "sh": ("supervisor", ["Shanghai"]),
    "ana": ("analyst", []),
}
#: the alerts' managers by district in the digest world (深圳 is a district of its own)
GUANGDONG = {"P3000001", "P3000002", "P3000003", "P3000005"}  # P3000004 is closed
SHANGHAI = {"P3000007"}


def build_console_world(settings: Settings) -> None:
    build_world(settings)
    for name, (role, districts) in ACCOUNTS.items():
        pipeline.add_user(settings, name, role, districts, PASSWORD, actor="test", clock=CLOCK)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log ``name`` in; the session's CSRF token (from the queue page)."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/alerts"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get("/alerts")
    assert page.status_code == 200
    return csrf_of(page.text)
