"""The dashboard in a real browser: signing in, books and pitches live, failures, a phone's width."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from studio_testing.browser import axe, screenshot, sign_in_link, until
from studio_testing.harness import Stack, call
from studio_testing.payloads import draft


def test_a_writer_signs_in_makes_a_book_and_sees_it_fill_live(
    browser: webdriver.Chrome, stack: Stack, user_id: str
) -> None:
    browser.get(sign_in_link(stack, user_id))
    until(browser, lambda: browser.find_element(By.TAG_NAME, "h1").text == "Dashboard", "the dashboard")
    assert "token" not in browser.current_url, "the token leaves the address at once"
    assert browser.execute_script("return sessionStorage.getItem('studio.token')")
    assert "Loading the studio" not in browser.find_element(By.TAG_NAME, "body").text, "nothing left of the loading"
    until(
        browser,
        lambda: browser.find_element(By.CSS_SELECTOR, "[role=status]").get_attribute("data-status") == "live",
        "a live socket",
    )

    # With the keyboard only: to the field by its label, type, Enter.
    field = browser.find_element(By.ID, "new-book")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=new-book]").text == "New book"
    field.send_keys("The Salt Ledger", Keys.ENTER)
    card = until(
        browser,
        lambda: [c for c in browser.find_elements(By.CSS_SELECTOR, ".card") if "The Salt Ledger" in c.text],
        "the new book",
    )[0]
    assert "0 chapters" in card.text

    # Another device writes a chapter: the dashboard follows without a reload.
    books = call(stack, user_id, "GET", f"/api/v1/users/{user_id}/books")["books"]
    (book,) = [b for b in books if b["title"] == "The Salt Ledger"]
    call(stack, user_id, "POST", "/api/v1/blobs", draft(book["book_id"], 1, "The harbour froze in the night."))
    call(
        stack,
        user_id,
        "POST",
        "/api/v1/blobs",
        {
            "schema_id": "pitch-input-v1",
            "data": {"title": "Salt", "logline": "A ledger of ships that never came home."},
        },
    )
    until(
        browser,
        lambda: any("1 chapter" in c.text for c in browser.find_elements(By.CSS_SELECTOR, ".card")),
        "the chapter count",
    )
    until(
        browser,
        lambda: any("pitch-builder: ok" in c.text for c in browser.find_elements(By.CSS_SELECTOR, ".card")),
        "the built pitch",
    )
    assert browser.execute_script("return performance.getEntriesByType('navigation').length") == 1, "no reload"
    shot = screenshot(browser, "dashboard")
    assert shot.stat().st_size > 10_000
    assert axe(browser) == []


def test_the_dashboard_reads_on_a_phone_and_shows_failures(
    browser: webdriver.Chrome, stack: Stack, user_id: str
) -> None:
    blob = call(stack, user_id, "POST", "/api/v1/blobs", draft("phone", 1, "A short chapter."))
    browser.set_window_size(375, 800)
    browser.get(sign_in_link(stack, user_id))
    until(browser, lambda: "phone" in browser.find_element(By.TAG_NAME, "main").text, "the book")
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth"), "nothing wider than the screen"
    screenshot(browser, "dashboard-phone")
    assert axe(browser) == []
    assert blob["id"]


def test_without_a_token_the_page_asks_for_one(browser: webdriver.Chrome, stack: Stack) -> None:
    browser.get(stack.gateway + "/")
    label = until(browser, lambda: browser.find_element(By.CSS_SELECTOR, "label[for=token]"), "the sign-in form")
    assert label.text == "Bearer token"
    screenshot(browser, "sign-in")
    assert axe(browser) == []
