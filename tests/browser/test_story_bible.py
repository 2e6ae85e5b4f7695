"""The story bible and the writer's say over each section, in a real browser: an entry added in the
panel shows in the sections' receipts, an edited one is rewritten where it was used; a section is
discarded, written again and kept with the keyboard; the AI share shows on the dashboard."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from studio_testing.browser import axe, screenshot, sign_in_link, until
from studio_testing.harness import Stack, call
from studio_testing.payloads import draft

TEXT = "Mara Quist climbed the lighthouse stairs.\n\nThe lamp was cold.\n\nShe kept the key."


def piece(browser: webdriver.Chrome) -> webdriver.remote.webelement.WebElement:
    return browser.find_element(By.CSS_SELECTOR, "article[data-processor=text-expansion]")


def status(browser: webdriver.Chrome) -> str:
    return piece(browser).find_element(By.CSS_SELECTOR, ".badge").get_attribute("data-status") or ""


def sections(browser: webdriver.Chrome) -> list[webdriver.remote.webelement.WebElement]:
    return piece(browser).find_elements(By.CSS_SELECTOR, "li.section")


def test_a_story_bible_entry_reaches_the_receipts_and_each_section_answers_to_the_keyboard(
    browser: webdriver.Chrome, paced: Stack, user_id: str
) -> None:
    call(paced, user_id, "POST", f"/api/v1/users/{user_id}/books", {"id": "gull", "title": "Gull Point"})
    blob = call(paced, user_id, "POST", "/api/v1/blobs", draft("gull", 1, TEXT, title="The Lamp"))
    browser.get(sign_in_link(paced, user_id, "/books/gull"))
    until(browser, lambda: status(browser) == "ok" and len(sections(browser)) == 3, "the expansion", timeout=60)
    # Without a model the page says so, and how to connect one.
    notice = piece(browser).find_element(By.CSS_SELECTOR, ".notice").text
    assert "offline placeholder" in notice and "STUDIO_OPENAI_API_KEY" in notice

    # An entry added in the panel: the sections that name it list it in their receipts.
    browser.find_element(By.XPATH, "//summary[normalize-space(.)='Add an entry']").click()
    browser.find_element(By.ID, "entry-name-new").send_keys("Mara Quist")
    browser.find_element(By.ID, "entry-aliases-new").send_keys("Mara")
    browser.find_element(By.ID, "entry-description-new").send_keys("An archivist who keeps the lamp.")
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Add entry']").click()
    until(
        browser,
        lambda: "Used: Mara Quist, matched 'Mara Quist' in paragraph 1" in sections(browser)[0].text,
        "the receipt of the first section",
        timeout=60,
    )
    assert "Mara Quist" not in sections(browser)[2].find_element(By.CSS_SELECTOR, ".meta").text
    screenshot(browser, "writer-story-bible")
    assert axe(browser) == []

    # Edited: the sections that used it are written again and their receipts stay.
    browser.find_element(By.XPATH, "//button[@aria-label='Edit Mara Quist']").click()
    Select(browser.find_element(By.CSS_SELECTOR, "form[aria-label='Edit Mara Quist'] select")).select_by_value(
        "character"
    )
    description = browser.find_element(By.CSS_SELECTOR, "form[aria-label='Edit Mara Quist'] textarea")
    description.clear()
    description.send_keys("The keeper of the lamp now.")
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Save entry']").click()
    # The sections that used it show stale (with why), then their new text as it is written; the
    # third section's receipt never named the entry, and it is not touched.
    changing: set[int] = set()
    reasons: set[str] = set()

    def rewritten() -> bool:
        for i, section in enumerate(sections(browser)):
            if section.get_attribute("data-status") in ("stale", "writing"):
                changing.add(i)
                reasons.update(r.text for r in section.find_elements(By.CSS_SELECTOR, ".reason"))
        return bool(changing) and status(browser) == "ok" and "Used: Mara Quist" in sections(browser)[0].text

    until(browser, rewritten, "the sections that used the entry stale, then written again", timeout=60)
    assert changing <= {0, 1}, changing
    assert reasons <= {"Stale: 'Mara Quist' changed (v1 -> v2)"}, reasons
    assert "written again" in browser.find_element(By.CSS_SELECTOR, ".codex [role=status]").text
    entry = call(paced, user_id, "GET", f"/api/v1/users/{user_id}/books/gull")["codex"][0]
    assert entry["version"] == 2 and entry["data"]["description"] == "The keeper of the lamp now."

    # The keyboard: D discards the third section, R writes the second again, K keeps the first.
    sections(browser)[2].send_keys("d")
    until(browser, lambda: sections(browser)[2].get_attribute("data-status") == "discarded", "the discarded section")
    second = sections(browser)[1]
    second.find_element(By.CSS_SELECTOR, "input.instruction").send_keys("shorter")
    sections(browser)[1].send_keys("r")
    until(browser, lambda: "asked: “shorter”" in sections(browser)[1].text, "the section written again", timeout=60)
    screenshot(browser, "writer-sections")
    kept_text = sections(browser)[0].find_element(By.CSS_SELECTOR, "p").text
    sections(browser)[0].send_keys("k")
    until(
        browser,
        lambda: browser.find_element(By.ID, "draft").get_attribute("value").startswith(kept_text),
        "the kept section in the draft",
    )
    share = until(browser, lambda: browser.find_element(By.CSS_SELECTOR, ".writer .share").text, "the AI share")
    assert "written by AI" in share
    saved = call(paced, user_id, "GET", f"/api/v1/blobs/{blob['id']}")
    assert saved["data"]["provenance"][0]["start"] == 0
    assert axe(browser) == []

    # An entry deleted in the panel leaves the book and every receipt.
    browser.find_element(By.XPATH, "//button[@aria-label='Delete Mara Quist']").click()
    browser.switch_to.alert.accept()
    until(
        browser,
        lambda: (
            not browser.find_elements(By.CSS_SELECTOR, ".codex [data-entry]")
            and status(browser) == "ok"
            and all("Used:" not in s.text for s in sections(browser))
        ),
        "the entry gone from the panel and the receipts",
        timeout=60,
    )
    assert call(paced, user_id, "GET", f"/api/v1/users/{user_id}/books/gull")["codex"] == []

    browser.get(sign_in_link(paced, user_id, "/"))
    card = until(
        browser, lambda: browser.find_element(By.CSS_SELECTOR, ".card [data-ai-share]"), "the share on the dashboard"
    )
    assert "written by AI" in card.text
    screenshot(browser, "dashboard-ai-share")
    assert axe(browser) == []
