"""The console in a real browser (Debian's chromium), at a phone's and a desktop's width: a
supervisor of 广东 logs in, filters the queue, opens a manager, snoozes and closes an alert,
and reads the oversight page; another
district's manager answers 404; every action lands in the audit trail. Screenshots of each page
are written under the test's temporary directory (``pytest --basetemp=DIR`` keeps them)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.console.browser import chromium, full_page_png, have_browser, serving
from tests.console.conftest import StepClock
from tests.console.world import GUANGDONG, PASSWORD, SHANGHAI
from watchtower.config import Settings
from watchtower.console import console_audit_rows, create_app
from watchtower.store import close_store, open_store
from watchtower.store.alerts import alerts
from watchtower.warn import alert_trail

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # CI installs both (.ci/run), so there a missing browser fails instead of skipping
    pytest.mark.skipif(
        not have_browser() and not os.environ.get("CI"),
        reason="chromium and chromium-driver not installed",
    ),
]


def _queue_register_nos(driver: WebDriver) -> set[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    found = set()
    for row in rows:
        link = row.find_element(By.CSS_SELECTOR, "a[href^='/managers/']")
        found.add(str(link.get_attribute("href")).rsplit("/", 1)[1])
    return found


def _submit(driver: WebDriver, button: WebElement, *, to: str) -> None:
    """Click a form's button and wait until the browser has loaded a new document at a URL
    containing ``to`` (a click returns before the next page has loaded).

    The old document is marked with a window property that a new page load cannot carry.
    While the page changes, chromium may answer a query about the old document with any
    WebDriver error (a stale element, or "Node with given id does not belong to the
    document"), so those answers mean "not yet" and the wait goes on; a page that never
    arrives still fails, on the timeout."""
    driver.execute_script("window.__watchtower_old_page = true;")
    button.click()
    wait = WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,))
    wait.until(lambda d: _arrived(d, to))


def _arrived(driver: WebDriver, to: str) -> bool:
    state = driver.execute_script(
        "return [window.__watchtower_old_page === true, document.readyState];"
    )
    return not state[0] and state[1] == "complete" and to in driver.current_url


def _fits(driver: WebDriver, width: int) -> None:
    """Nothing wider than the viewport: no sideways scrolling on a phone."""
    scroll = driver.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= width + 1, f"page is {scroll} px wide at {width} px"


@pytest.mark.parametrize("width", [390, 1280])
def test_a_supervisor_works_an_alert_in_chromium(
    console_settings: Settings, clock: StepClock, tmp_path: Path, width: int
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    app = create_app(console_settings, clock=clock)
    with serving(app) as base, chromium(width, 900, tmp_path / "profile") as driver:
        driver.get(f"{base}/alerts")
        assert "/login" in driver.current_url  # no session: to the login form
        driver.find_element(By.NAME, "username").send_keys("gd")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        _submit(
            driver,
            driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button"),
            to="/alerts",
        )
        assert driver.current_url.endswith("/alerts")
        assert _queue_register_nos(driver) == GUANGDONG
        _fits(driver, width)
        full_page_png(driver, shots / f"queue-{width}.png")

        # filter: red only
        Select(driver.find_element(By.NAME, "tier")).select_by_value("red")
        _submit(
            driver,
            driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"),
            to="tier=red",
        )
        reds = _queue_register_nos(driver)
        assert reds and reds < GUANGDONG
        badges = driver.find_elements(By.CSS_SELECTOR, "table.queue tbody .badge")
        assert {b.get_attribute("class") for b in badges} == {"badge tier-red"}
        full_page_png(driver, shots / f"queue-red-{width}.png")

        # open a manager from the queue
        register_no = sorted(reds)[0]
        link = driver.find_element(By.CSS_SELECTOR, f"a[href='/managers/{register_no}']")
        _submit(driver, link, to=f"/managers/{register_no}")
        assert register_no in driver.find_element(By.TAG_NAME, "main").text
        _fits(driver, width)
        full_page_png(driver, shots / f"manager-{width}.png")

        # another district's manager does not exist for this supervisor
        other = sorted(SHANGHAI)[0]
        driver.get(f"{base}/managers/{other}")
        main = driver.find_element(By.TAG_NAME, "main").text
        assert other not in main and "未找到" in main  # the not-found page, nothing of it

        # the alert page: snooze for a week, then close as a false alarm
        with open_store(console_settings.db_url).connect() as c:
            alert_id = c.execute(
                sa.select(alerts.c.id).where(alerts.c.register_no == register_no)
            ).scalar_one()
        driver.get(f"{base}/alerts/{alert_id}")
        assert driver.find_element(By.CSS_SELECTOR, "svg")  # the score and tier chart
        full_page_png(driver, shots / f"alert-{width}.png")
        _fits(driver, width)
        snooze = driver.find_element(By.CSS_SELECTOR, f"form[action='/alerts/{alert_id}/snooze']")
        until = snooze.find_element(By.NAME, "until")
        first = dt.date.fromisoformat(str(until.get_attribute("min")))
        # what a date picker does (typing into a date field follows the browser's locale)
        driver.execute_script(
            "arguments[0].value = arguments[1]", until, str(first + dt.timedelta(days=6))
        )
        snooze.find_element(By.NAME, "note").send_keys("等待材料")
        _submit(driver, snooze.find_element(By.TAG_NAME, "button"), to=f"/alerts/{alert_id}")
        assert str(first + dt.timedelta(days=6)) in driver.find_element(By.TAG_NAME, "main").text
        driver.get(f"{base}/alerts")
        assert register_no not in _queue_register_nos(driver)  # asleep: out of the queue
        driver.get(f"{base}/alerts?status=snoozed")
        assert _queue_register_nos(driver) == {register_no}
        driver.get(f"{base}/alerts/{alert_id}")
        close = driver.find_element(By.CSS_SELECTOR, f"form[action='/alerts/{alert_id}/close']")
        Select(close.find_element(By.NAME, "resolution")).select_by_value("false_positive")
        close.find_element(By.NAME, "note").send_keys("checked with the bureau")
        button = close.find_element(By.CSS_SELECTOR, "button[type=submit]")
        _submit(driver, button, to=f"/alerts/{alert_id}")
        full_page_png(driver, shots / f"alert-closed-{width}.png")

        # the oversight page counts the closing
        driver.get(f"{base}/metrics")
        assert "误报" in driver.find_element(By.TAG_NAME, "main").text
        _fits(driver, width)
        full_page_png(driver, shots / f"metrics-{width}.png")

    with open_store(console_settings.db_url).connect() as c:
        status = c.execute(sa.select(alerts.c.status).where(alerts.c.id == alert_id)).scalar_one()
        audit = [(r["actor"], r["action"]) for r in console_audit_rows(c)]
        trail = [(r["actor"], r["action"], r["note"]) for r in alert_trail(c, alert_id)]
    close_store(console_settings.db_url)
    assert status == "closed"
    assert ("gd", "login") in audit
    assert [t[:2] for t in trail[-2:]] == [("gd", "snooze"), ("gd", "close")]
    assert trail[-1][2] == "false_positive: checked with the bureau"
    for png in shots.iterdir():
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, png.name
