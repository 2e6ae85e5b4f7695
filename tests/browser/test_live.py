"""Live and resilient in a real browser: two devices stay in sync; the gateway killed mid-session,
the page says so, retries, and catches up without a reload; a session whose token expires says so
and stops trying; the token never travels in the socket's URL."""

from __future__ import annotations

import os
import signal
import time

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from servicekit.auth import issue_token
from studio_testing.browser import screenshot, sign_in_link, until
from studio_testing.harness import Stack, call, pid_alive


def status(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.CSS_SELECTOR, "[role=status]").get_attribute("data-status") or ""


def titles(browser: webdriver.Chrome) -> list[str]:
    return [c.find_element(By.TAG_NAME, "h3").text for c in browser.find_elements(By.CSS_SELECTOR, ".card")]


def test_two_devices_stay_in_sync(
    browser: webdriver.Chrome, second_browser: webdriver.Chrome, paced: Stack, user_id: str
) -> None:
    for device in (browser, second_browser):
        device.get(sign_in_link(paced, user_id))
        until(device, lambda d=device: status(d) == "live", "a live socket")
    browser.find_element(By.ID, "new-book").send_keys("Made on the laptop", Keys.ENTER)
    until(second_browser, lambda: "Made on the laptop" in titles(second_browser), "the book on the other device")
    second_browser.find_element(By.ID, "new-book").send_keys("Made on the phone", Keys.ENTER)
    until(browser, lambda: "Made on the phone" in titles(browser), "the book back on the laptop")


def test_the_page_recovers_when_the_gateway_is_killed(browser: webdriver.Chrome, paced: Stack, user_id: str) -> None:
    browser.get(sign_in_link(paced, user_id))
    until(browser, lambda: status(browser) == "live", "a live socket")
    gateway = paced.refresh()["services"]["gateway"]["pid"]
    os.kill(gateway, signal.SIGKILL)
    until(browser, lambda: status(browser).startswith("offline"), "the lost connection shown")
    assert "Connection lost" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text
    screenshot(browser, "connection-lost")
    # The supervisor starts a new gateway; the page finds it by itself and catches up.
    until(
        browser,
        lambda: not pid_alive(gateway) and paced.refresh()["services"]["gateway"]["pid"] != gateway,
        "a new gateway",
        timeout=60,
    )

    def call_when_up() -> object:
        return call(paced, user_id, "POST", f"/api/v1/users/{user_id}/books", {"title": "Written while it was away"})

    until(browser, call_when_up, "the gateway answering", timeout=60)
    until(browser, lambda: status(browser) == "live", "live again", timeout=60)
    until(browser, lambda: "Written while it was away" in titles(browser), "what happened meanwhile")
    assert browser.execute_script("return performance.getEntriesByType('navigation').length") == 1, "no reload"


def test_an_expired_session_says_so_and_stops_trying(browser: webdriver.Chrome, paced: Stack, user_id: str) -> None:
    token = issue_token(paced.secrets["jwt_secret"], user_id, ttl_seconds=5)
    browser.get(f"{paced.gateway}/#token={token}")
    until(browser, lambda: status(browser) == "live", "a live socket")
    # The gateway closes the socket when the token expires (4001); the page does not retry.
    until(browser, lambda: status(browser) == "expired", "the session shown as expired", timeout=20)
    shown = browser.find_element(By.CSS_SELECTOR, "[role=status]")
    assert "Session expired" in shown.text
    screenshot(browser, "session-expired")
    time.sleep(2)  # what is checked is that nothing happens: no retry in the meantime
    assert status(browser) == "expired"
    shown.find_element(By.XPATH, ".//button[normalize-space()='Sign in again']").click()
    until(browser, lambda: browser.find_element(By.ID, "token"), "the sign-in form")
    # The studio's sockets carried their token as a subprotocol: no socket URL held one.
    log = (paced.data_dir / "logs" / "gateway.log").read_text(errors="replace")
    assert '"GET /ws HTTP/1.1" 101' in log and "/ws?token=" not in log
