"""Real headless Chromium, driven by Playwright, for the checks about the front end."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from .checks import CheckSkipped

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Without the networking flags Chromium keeps calling home, which this offline course forbids.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
INSTALL_ADVICE = (
    "Chromium was not found, so the browser checks cannot run. Install Debian's package "
    "(`sudo apt-get install chromium`; `make setup` does it when run as root) or set "
    "CHROMIUM_PATH to a Chromium binary."
)


def find_chromium() -> Path | None:
    """CHROMIUM_PATH if it is set (and None if it is not runnable), else the usual places."""
    explicit = os.environ.get("CHROMIUM_PATH", "").strip()
    candidates = [explicit] if explicit else [*CHROMIUM_CANDIDATES, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def page_problems(browser) -> list[str]:
    """What went wrong inside the pages: uncaught JavaScript errors and console errors."""
    problems = []
    for context in browser.contexts:
        for page in context.pages:
            problems += [f"uncaught error: {error.message}" for error in page.page_errors()]
            problems += [
                f"console error: {message.text}"
                for message in page.console_messages()
                if message.type == "error"
            ]
    return problems


@contextlib.contextmanager
def chromium() -> Iterator:
    """A fresh headless Chromium (Playwright Browser); CheckSkipped if there is none."""
    executable = find_chromium()
    if executable is None:
        raise CheckSkipped(INSTALL_ADVICE)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
