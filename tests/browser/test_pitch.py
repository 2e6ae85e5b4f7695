"""The Pitch Creator in a real browser: a form made from the registry's schema, an error shown at
its field, fixed, the pitch built beside the notes, and its one-pager downloaded."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.by import By

from studio_testing.browser import DOWNLOADS, axe, screenshot, sign_in_link, until
from studio_testing.harness import Stack, call


def test_fill_the_pitch_form_fix_an_error_and_see_the_pitch(
    browser: webdriver.Chrome, stack: Stack, user_id: str
) -> None:
    schema = call(stack, user_id, "GET", "/api/v1/schemas/pitch-input-v1")["schema"]
    browser.get(sign_in_link(stack, user_id, "/pitches/new"))
    until(browser, lambda: browser.find_element(By.ID, "field-title"), "the form")
    fields = {
        e.get_attribute("name")
        for e in browser.find_elements(
            By.CSS_SELECTOR, "form input[id^=field-], form textarea[id^=field-], form select[id^=field-]"
        )
    }
    assert fields == set(schema["properties"]), "a field for every property the registry serves"

    # The book is chosen from the writer's books, not typed as an id.
    call(stack, user_id, "POST", f"/api/v1/users/{user_id}/books", {"id": "keeper", "title": "The Keeper"})
    browser.refresh()
    book = until(
        browser,
        lambda: [o for o in browser.find_elements(By.CSS_SELECTOR, "#field-book_id option") if o.text == "The Keeper"],
        "the writer's books offered",
    )
    assert browser.find_element(By.ID, "field-book_id").tag_name == "select"
    book[0].click()
    browser.find_element(By.ID, "field-title").send_keys("The Lighthouse Keeper")
    browser.find_element(By.ID, "field-characters").send_keys("Mara Quist | protagonist | An archivist.")
    browser.find_element(By.ID, "field-logline").send_keys("Too short")  # under the schema's 10... it is 9
    browser.find_element(By.ID, "field-comparables").send_keys("The Essex Serpent\nThe Lamplighters")
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Build the pitch']").click()
    logline = until(
        browser,
        lambda: (
            browser.find_element(By.ID, "field-logline")
            if browser.find_element(By.ID, "field-logline").get_attribute("aria-invalid") == "true"
            else None
        ),
        "the error at its field",
    )
    error = browser.find_element(By.ID, "field-logline-error")
    assert error.text and logline.get_attribute("aria-describedby") == "field-logline-error"
    assert browser.switch_to.active_element == logline, "focus goes to the field to fix"
    screenshot(browser, "pitch-error")

    logline.send_keys(": a young archivist inherits a lighthouse and a ledger of ships that never came home.")
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Build the pitch']").click()
    until(
        browser,
        lambda: "/pitches/" in browser.current_url and not browser.current_url.endswith("/new"),
        "the saved notes' page",
    )
    until(
        browser,
        lambda: "The hook" in browser.find_element(By.CSS_SELECTOR, ".built").text,
        "the built pitch",
        timeout=30,
    )
    screenshot(browser, "pitch")
    built = browser.find_element(By.CSS_SELECTOR, ".built")
    assert "**" not in built.text, "the pitch is shown formatted, not as raw Markdown"
    assert built.find_element(By.XPATH, ".//li/strong[normalize-space(.)='Mara Quist']")
    notes_id = browser.current_url.split("/pitches/")[1]
    assert call(stack, user_id, "GET", f"/api/v1/blobs/{notes_id}")["data"]["book_id"] == "keeper"
    assert axe(browser) == []
    for old in DOWNLOADS.glob("the-lighthouse-keeper-pitch.pdf"):
        old.unlink()
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Download PDF']").click()
    path = until(
        browser, lambda: next(iter(DOWNLOADS.glob("the-lighthouse-keeper-pitch.pdf")), None), "the downloaded one-pager"
    )
    until(
        browser,
        lambda: path.read_bytes().startswith(b"%PDF") and path.read_bytes().rstrip().endswith(b"%%EOF"),
        "the whole PDF",
    )
