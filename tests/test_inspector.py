"""The event inspector under every stage's page, in real Chromium: it lists the events of a chat
and of a report, both ways, with namespace, payload and transport (and, in lesson 04, the
instance), and the page shows "In the chat" as soon as it connects, even alone.

The inspector (static/inspector.js) is outside every exercise region, so starters have it too.
`browser` is pytest-playwright's fixture, set up for Debian's Chromium in tests/conftest.py."""

from __future__ import annotations

import pytest

from autograder.harness import Harness
from autograder.paths import LESSONS, SOLUTIONS
from autograder.stages import lesson01, lesson03, lesson04, start_stack
from autograder.stages.common import TOKENS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000


def rows(page) -> list[dict]:
    return page.eval_on_selector_all(
        "#inspector-rows tr",
        """rows => rows.map(row => ({
            direction: row.dataset.direction, namespace: row.dataset.namespace,
            event: row.dataset.event, cells: [...row.cells].map(cell => cell.textContent)}))""",
    )


def seen(page, direction: str, namespace: str, event: str) -> dict:
    """The newest inspector row for that event (waits for it)."""
    selector = (
        f'#inspector-rows tr[data-direction="{direction}"][data-namespace="{namespace}"]'
        f'[data-event="{event}"]'
    )
    page.wait_for_selector(selector, timeout=TIMEOUT_MS)
    return next(
        row
        for row in rows(page)
        if (row["direction"], row["namespace"], row["event"]) == (direction, namespace, event)
    )


def test_every_stage_and_starter_has_the_inspector():
    for root in (SOLUTIONS, LESSONS):
        for stage in ("01_basics", "02_namespaces", "03_celery_rooms", "04_production"):
            assert (root / stage / "static" / "inspector.js").is_file()
            assert 'id="inspector-rows"' in (root / stage / "templates" / "index.html").read_text()
            assert "inspect" in (root / stage / "static" / "app.js").read_text()


def test_lesson01_inspector_lists_a_chat(browser):
    from playwright.sync_api import expect

    with Harness() as harness:
        app = start_stack(harness, lesson01.start, SOLUTIONS / "01_basics")
        page = browser.new_page()
        page.goto(app.url + "/")
        expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
        page.fill("#name", "ada")
        page.fill("#text", "hello inspector")
        page.click("#chat-form button")
        sent = seen(page, "out", "/", "chat_message")
        received = seen(page, "in", "/", "chat_message")
        assert "hello inspector" in sent["cells"][4] and "hello inspector" in received["cells"][4]
        assert seen(page, "in", "/", "user_count")["cells"][4] == '{"count":1}'
        assert seen(page, "in", "/", "connect")
        page.context.close()


def test_lesson03_inspector_lists_a_chat_and_a_report(browser):
    from playwright.sync_api import expect

    with Harness() as harness:
        app = start_stack(harness, lesson03.start, SOLUTIONS / "03_celery_rooms")
        page = browser.new_page()
        page.goto(app.url + "/")
        page.fill("#token", TOKENS["alice"])
        page.click("#login-form button")
        expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
        # Alone in the chat, the count is there at once (it used to stay "?").
        expect(page.locator("#online")).to_have_text("1", timeout=TIMEOUT_MS)
        assert seen(page, "in", "/notifications", "welcome")

        page.fill("#text", "hello inspector")
        page.click("#chat-form button")
        sent = seen(page, "out", "/chat", "send_message")
        assert '"text":"hello inspector"' in sent["cells"][4]
        assert "hello inspector" in seen(page, "in", "/chat", "message")["cells"][4]

        page.click("#start-report")
        assert seen(page, "out", "/reports", "start_report")
        progress = seen(page, "in", "/reports", "progress")
        result = seen(page, "in", "/reports", "result")
        assert '"state":"running"' in progress["cells"][4], progress
        assert '"state":"done"' in result["cells"][4], result
        transports = {row["cells"][5] for row in rows(page)}
        assert transports <= {"polling", "websocket"} and "websocket" in transports, transports
        page.context.close()


def test_lesson04_inspector_names_the_instance(browser):
    from playwright.sync_api import expect

    with Harness() as harness:
        app = start_stack(harness, lesson04.start, SOLUTIONS / "04_production")
        page = browser.new_page()
        page.goto(app.url + "/")
        page.fill("#token", lesson04.TOKENS["bob"])
        page.click("#login-form button")
        expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
        expect(page.locator("#instance")).not_to_have_text("—", timeout=TIMEOUT_MS)
        instance = page.locator("#instance").text_content()
        expect(page.locator("#online")).not_to_have_text("?", timeout=TIMEOUT_MS)
        page.click("#start-report")
        result = seen(page, "in", "/reports", "result")
        assert result["cells"][6] == instance, (result, instance)
        assert result["cells"][5] == "websocket", result
        page.context.close()
