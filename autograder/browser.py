"""Real headless Chromium, driven by Playwright, for the checks about the front end."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from . import settings
from .failures import CheckFailed, CheckSkipped
from .waiting import poll_until

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


# What the browser itself logs about the network: a refused handshake, a closed WebSocket, a
# missing favicon. A check provokes some of these on purpose, and none is the page's own error.
NETWORK_NOISE = (
    "Failed to load resource",
    "WebSocket connection to",
    "net::ERR_",
    "favicon",
    "Access to XMLHttpRequest",
    "Access to fetch",
)


def relevant(text: str) -> bool:
    """Whether a console line says something about the page's own code."""
    return not any(noise in text for noise in NETWORK_NOISE)


def page_problems(browser) -> list[str]:
    """What went wrong inside the pages: uncaught JavaScript errors and console errors of the
    page's own code (not the browser's network messages)."""
    problems = []
    for context in browser.contexts:
        for page in context.pages:
            problems += [f"uncaught error: {error.message}" for error in page.page_errors()]
            problems += [
                f"console error: {message.text}"
                for message in page.console_messages()
                if message.type == "error" and relevant(message.text)
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


# Engine.IO opens its upgrade WebSocket while the namespace CONNECT is still under way over
# polling, and python-engineio holds every packet, the CONNECT ack too, once that WebSocket
# reaches it: so "connect" may fire after the upgrade, and the transport seen there varies.
# This stand-in creates the page's real WebSocket only once the page shows it is connected
# (or after HOLD_MS), so "connect" always sees polling and only the upgrade can show websocket.
_HOLD_WEBSOCKET = """
(() => {
  const Real = window.WebSocket;
  const SELECTOR = %(selector)s, TEXT = %(text)s, HOLD_MS = %(hold_ms)d;
  const shown = () => {
    const element = document.querySelector(SELECTOR);
    return element !== null && element.textContent.trim() === TEXT;
  };
  class HeldWebSocket {
    constructor(url, protocols) {
      Object.assign(this, { url, binaryType: "blob", readyState: 0, real: null, closed: false });
      this.onopen = this.onclose = this.onmessage = this.onerror = null;
      const started = Date.now();
      const open = () => {
        if (this.closed) return;
        if (!shown() && Date.now() - started < HOLD_MS) return setTimeout(open, 20);
        const ws = protocols ? new Real(url, protocols) : new Real(url);
        ws.binaryType = this.binaryType;
        ws.onopen = (event) => { this.readyState = 1; if (this.onopen) this.onopen(event); };
        ws.onclose = (event) => { this.readyState = 3; if (this.onclose) this.onclose(event); };
        ws.onmessage = (event) => { if (this.onmessage) this.onmessage(event); };
        ws.onerror = (event) => { if (this.onerror) this.onerror(event); };
        this.real = ws;
      };
      open();
    }
    send(data) { this.real.send(data); }
    close(code, reason) {
      this.closed = true;
      if (this.real) this.real.close(code, reason);
    }
  }
  Object.assign(HeldWebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = HeldWebSocket;
})();
"""


def hold_websocket_until(page, selector: str, text: str, at_most: float = 3.0) -> None:
    """Make the page's WebSockets wait until ``selector`` reads ``text`` (at most ``at_most``
    seconds) before they reach the server. Call before the page loads."""
    page.add_init_script(
        _HOLD_WEBSOCKET
        % {"selector": json.dumps(selector), "text": json.dumps(text), "hold_ms": at_most * 1000}
    )


def page_sleep(page):
    """A sleep for poll_until that lets Playwright deliver the page's events meanwhile."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)


def expect_text(
    page, selector: str, wanted: str, sent: str, timeout: float = settings.BROWSER_TIMEOUT
) -> None:
    """Wait until ``selector``'s text is ``wanted``; fail with what the page showed."""
    shown: list = [None]

    def shows_it() -> bool:
        shown[0] = page.locator(selector).first.text_content(timeout=timeout * 1000)
        return shown[0] is not None and shown[0].strip() == wanted

    if poll_until(shows_it, timeout, sleep=page_sleep(page)):
        return
    console = [m.text for m in getattr(page, "console_messages", lambda: [])() if relevant(m.text)][
        -5:
    ]
    raise CheckFailed(
        f"the page never showed {wanted!r} in {selector}",
        sent=sent,
        expected=f"{selector} to read {wanted!r} within {timeout:.0f} s",
        received=f"{selector} reads {shown[0]!r}"
        + (f"; browser console: {console}" if console else ""),
    )
