"""Driving the studio in Chromium as a person would: signing in, waiting for what the page shows,
screenshots, and axe-core's accessibility check."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By

from servicekit.auth import issue_token

from .harness import ROOT, Stack

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
SHOTS = Path(os.environ.get("STUDIO_TEST_ARTIFACTS", ROOT / ".artifacts")) / "screenshots"
DOWNLOADS = Path(os.environ.get("STUDIO_TEST_ARTIFACTS", ROOT / ".artifacts")) / "downloads"


def until(browser: webdriver.Chrome, check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except Exception:  # the page is between renders
            found = None
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}; the page says: {browser.find_element(By.TAG_NAME, 'body').text[:1500]}"
    )


def sign_in_link(stack: Stack, user_id: str, path: str = "/") -> str:
    return f"{stack.gateway}{path}#token={issue_token(stack.secrets['jwt_secret'], user_id)}"


def screenshot(browser: webdriver.Chrome, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def axe(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is."""
    browser.execute_script(AXE.read_text())
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));"
    )
    return [v for v in result if v.get("impact") in ("serious", "critical")]
