"""Headless Chromium (Debian's, through its chromidriver) driving the studio like a person would."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from studio_testing.browser import DOWNLOADS
from studio_testing.harness import Stack, running_stack

# Screenshots of each main screen, for people to look at: kept in the run's output.


@pytest.fixture(scope="session")
def paced() -> Iterator[Stack]:
    """A stack whose offline expander writes at a reading pace, so that streaming can be watched."""
    with running_stack(
        STUDIO_TEXT_EXPANSION_OFFLINE_WORDS_PER_SECOND="80", STUDIO_PROCESSORS="text-expansion,book-compiler,summary"
    ) as stack:
        yield stack


def launch() -> webdriver.Chrome:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail("chromium and chromedriver are needed (make test installs Debian's packages)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(DOWNLOADS), "download.prompt_for_download": False}
    )
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--disable-gpu",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    browser.implicitly_wait(0)
    return browser


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    browser = launch()
    yield browser
    browser.quit()


@pytest.fixture
def second_browser() -> Iterator[webdriver.Chrome]:
    """Another device: a browser of its own, with its own session."""
    browser = launch()
    yield browser
    browser.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The session's browser, signed out and at desktop width for each test."""
    chromium.set_window_size(1280, 900)
    yield chromium
    chromium.execute_script("sessionStorage.clear()")
    chromium.get("about:blank")  # the next sign-in link is a new page, not a change of the hash
