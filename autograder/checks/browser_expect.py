"""Browser assertions that fail with the student-facing details a check needs."""

import time

from .. import settings
from . import CheckFailed


def expect_text(
    page, selector: str, wanted: str, sent: str, timeout: float = settings.BROWSER_TIMEOUT
) -> None:
    """Wait until ``selector``'s text is ``wanted``; fail with what the page showed."""
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = page.locator(selector).first.text_content(timeout=timeout * 1000)
        if shown is not None and shown.strip() == wanted:
            return
        page.wait_for_timeout(100)
    console = [m.text for m in getattr(page, "console_messages", lambda: [])()][-5:]
    raise CheckFailed(
        f"the page never showed {wanted!r} in {selector}",
        sent=sent,
        expected=f"{selector} to read {wanted!r} within {timeout:.0f} s",
        received=f"{selector} reads {shown!r}"
        + (f"; browser console: {console}" if console else ""),
    )
