"""Headless Chromium (Debian's) through Playwright, and a person's steps on the demo server's pages."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..conftest import CHROMIUM_ARGS, chromium_or_skip

ARTIFACTS = Path(os.environ.get("NB_OAUTH_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A fresh headless browser (never downloaded: the system's chromium)."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in_and_consent(page, *, username: str = "alice", password: str = "wonderland", consent: str = "allow") -> None:
    """What a person does on the demo server: sign in, then Allow (or Deny)."""
    if page.locator("input[name=username]").count():
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[name=action][value=login]")
    page.click(f"button[name=consent][value={consent}]")


def shot(page, folder: str, name: str) -> Path:
    path = ARTIFACTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
