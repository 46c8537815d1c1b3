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
    candidates = [
        os.environ.get("CHROMIUM_PATH", ""),
        *CHROMIUM_CANDIDATES,
        shutil.which("chromium") or "",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


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
