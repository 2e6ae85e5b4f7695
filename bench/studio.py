"""The web studio in headless Chromium against a provider that behaves like a hosted one.

Starts its own stack (gateway and index), the simulated provider in a process of its own (50
tokens/s, 400 ms to the first token) and text expansion pointed at it. For each sample a writer
opens a one-chapter book in the Book Writer, types a paragraph at the end of the draft, and the
clock runs from the last keystroke to the first words of the new expansion on screen (the
autosave's 800 ms pause after typing included, as a writer lives it). Also prints the bytes of the
first load, as sent and gzipped.

Run from the repository root: .venv/bin/python -m bench.studio [--samples N]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from gateway.routes.studio import WEB, files
from servicekit.auth import issue_token
from studio_testing.fake_openai import provider_process
from studio_testing.harness import ServiceProcess, call, free_port, new_stack

DRAFT = "Mara found the ledger under the harbour stairs. The ink had faded to the colour of weak tea."
TYPED = "At dawn the ferry left without her, and the gulls followed it out past the breakwater."


def wait(check: Any, timeout: float = 120.0, step: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except Exception:
            found = None
        if found:
            return found
        time.sleep(step)
    raise TimeoutError("the page did not get there")


def expansion(browser: webdriver.Chrome) -> tuple[str, str]:
    piece = browser.find_element(By.CSS_SELECTOR, "article[data-processor=text-expansion]")
    return piece.find_element(By.CSS_SELECTOR, ".badge").get_attribute("data-status") or "", piece.find_element(
        By.CSS_SELECTOR, ".text"
    ).text


def first_load_bytes() -> tuple[int, int]:
    sent = (WEB / "index.html").stat().st_size + sum(p.stat().st_size for p in files().values())
    zipped = len(gzip.compress((WEB / "index.html").read_bytes())) + sum(
        len(gzip.compress(p.read_bytes())) for p in files().values()
    )
    return sent, zipped


def run(samples: int) -> None:
    logs = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    model_port = free_port()
    model = provider_process(model_port)
    stack = new_stack(STUDIO_PROCESSORS="")
    stack.start()
    expansion_process = ServiceProcess.text_expansion(
        stack,
        "bench_studio",
        logs,
        STUDIO_OPENAI_API_KEY="bench",
        STUDIO_OPENAI_BASE_URL=f"http://127.0.0.1:{model_port}/v1",
    )
    expansion_process.start()
    expansion_process.wait_ready(60)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))
    timings: list[float] = []
    try:
        for n in range(samples):
            user_id = f"bench-{uuid.uuid4().hex[:8]}"
            call(stack, user_id, "POST", f"/api/v1/users/{user_id}/books", {"id": "b", "title": f"Sample {n}"})
            call(
                stack,
                user_id,
                "POST",
                "/api/v1/blobs",
                {"schema_id": "text-input-v1", "data": {"content": DRAFT, "metadata": {"book_id": "b", "chapter": 1}}},
            )
            browser.get("about:blank")
            browser.get(f"{stack.gateway}/books/b#token={issue_token(stack.secrets['jwt_secret'], user_id)}")
            wait(lambda: expansion(browser)[0] == "ok")
            browser.find_element(By.ID, "draft").send_keys(Keys.END, "\n\n" + TYPED)
            typed = time.monotonic()
            wait(lambda: expansion(browser)[0] == "streaming" and expansion(browser)[1].strip())
            timings.append(time.monotonic() - typed)
            wait(lambda: expansion(browser)[0] == "ok" and "ferry" in expansion(browser)[1])
            print(f"sample {n + 1}: {timings[-1] * 1000:.0f} ms", flush=True)
    finally:
        browser.quit()
        expansion_process.kill()
        stack.stop()
        model.terminate()
        model.wait(10)
        shutil.rmtree(stack.data_dir, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    sent, zipped = first_load_bytes()
    print(
        f"\ntyping a paragraph -> first expanded words on screen ({samples} samples, 800 ms autosave pause included): "
        f"p50 {statistics.median(timings) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    print(f"first load: {sent / 1024:.1f} KiB as sent, {zipped / 1024:.1f} KiB gzipped (every file of the studio)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    run(args.samples)


if __name__ == "__main__":
    main()
