"""The Book Writer in a real browser: write and watch the expansion stream, stale then fresh, a
conflict with another device, compile and download."""

from __future__ import annotations

import time
import zipfile

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio_testing.browser import DOWNLOADS, axe, screenshot, sign_in_link, until
from studio_testing.harness import Stack, call
from studio_testing.payloads import draft

OPENING = "Mara found the ledger under the harbour stairs. The ink had faded to the colour of weak tea."


def expansion(browser: webdriver.Chrome) -> tuple[str, str]:
    piece = browser.find_element(By.CSS_SELECTOR, "article[data-processor=text-expansion]")
    return piece.find_element(By.CSS_SELECTOR, ".badge").get_attribute("data-status") or "", piece.find_element(
        By.CSS_SELECTOR, ".text"
    ).text


def test_write_a_chapter_and_watch_it_expand_then_edit_compile_and_download(
    browser: webdriver.Chrome, paced: Stack, user_id: str
) -> None:
    call(paced, user_id, "POST", f"/api/v1/users/{user_id}/books", {"id": "ledger", "title": "The Ledger"})
    blob = call(paced, user_id, "POST", "/api/v1/blobs", draft("ledger", 1, OPENING, title="Stairs"))
    browser.get(sign_in_link(paced, user_id, "/books/ledger"))
    until(browser, lambda: expansion(browser)[0] == "ok", "the first expansion", timeout=60)

    # Type a paragraph: it saves itself, the right pane goes stale, then the new version streams in.
    editor = browser.find_element(By.ID, "draft")
    editor.send_keys(
        Keys.END, "\n\nAt dawn the ferry left without her, and the gulls followed it out past the breakwater."
    )
    typed = time.monotonic()
    until(
        browser,
        lambda: browser.find_element(By.CSS_SELECTOR, "[data-save]").get_attribute("data-save") == "saved",
        "the autosave",
    )
    seen = until(
        browser,
        lambda: expansion(browser)[0] in ("stale", "streaming", "pending") and expansion(browser)[0],
        "the stale or streaming pane",
    )
    streamed = until(
        browser,
        lambda: expansion(browser)[0] == "streaming" and expansion(browser)[1],
        "words streaming in",
        timeout=30,
    )
    first_words = time.monotonic() - typed
    screenshot(browser, "writer-streaming")
    until(
        browser,
        lambda: expansion(browser)[0] == "ok" and "ferry" in expansion(browser)[1],
        "the new expansion",
        timeout=60,
    )
    assert seen and streamed and first_words > 0
    print(f"typing to the first expanded words on screen: {first_words * 1000:.0f} ms")
    # Every processor's output is there, the summary made from the expansion too, without a page change.
    summary = until(
        browser,
        lambda: [
            a for a in browser.find_elements(By.CSS_SELECTOR, "article[data-processor=summary]") if "ferry" in a.text
        ],
        "the summary",
        timeout=60,
    )
    assert "current" in summary[0].text
    screenshot(browser, "writer")
    assert axe(browser) == []
    browser.set_window_size(375, 800)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), (
        "nothing wider than a phone"
    )
    screenshot(browser, "writer-phone")
    browser.set_window_size(1280, 900)

    # Another device saves first: the page shows the conflict and lets the writer keep their text.
    current = call(paced, user_id, "GET", f"/api/v1/blobs/{blob['id']}")
    call(
        paced,
        user_id,
        "PUT",
        f"/api/v1/blobs/{blob['id']}",
        {"data": {**current["data"], "content": "Another device's text."}, "version": current["version"]},
    )
    browser.find_element(By.ID, "draft").send_keys(" Mine.")
    alert = until(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".conflict"), "the conflict")
    screenshot(browser, "writer-conflict")
    alert.find_element(By.XPATH, ".//button[normalize-space(.)='Keep mine']").click()
    until(
        browser,
        lambda: browser.find_element(By.CSS_SELECTOR, "[data-save]").get_attribute("data-save") == "saved",
        "saved after the conflict",
    )
    assert call(paced, user_id, "GET", f"/api/v1/blobs/{blob['id']}")["data"]["content"].endswith("Mine.")

    # Compile, then download the EPUB and look at its bytes.
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Compile the book']").click()
    until(
        browser,
        lambda: "Version 1:" in browser.find_element(By.CSS_SELECTOR, ".versions").text,
        "the compiled version",
        timeout=60,
    )
    for old in DOWNLOADS.glob("ledger-v*.epub"):
        old.unlink()
    # The download buttons are the formats the API document lists for a book's export.
    offered = [b.text for b in browser.find_elements(By.CSS_SELECTOR, ".downloads button")]
    assert offered == [f"Download {label}" for label in ("EPUB", "DOCX", "PDF", "Markdown", "Plain text")], offered
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Download EPUB']").click()
    path = until(browser, lambda: next(iter(DOWNLOADS.glob("ledger-v1.epub")), None), "the downloaded EPUB")
    until(browser, lambda: zipfile.is_zipfile(path), "the whole file")
    with zipfile.ZipFile(path) as archive:
        assert archive.read("mimetype") == b"application/epub+zip"
