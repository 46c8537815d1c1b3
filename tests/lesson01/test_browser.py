"""Lesson 01's real front end: the npm socket.io client in headless Chromium, against the real
solutions/01_basics app started by the grader's harness. Always run in CI (CI=true)."""

import re

import pytest
from playwright.sync_api import expect

from autograder import settings
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.stages import lesson01, start_stack

pytestmark = pytest.mark.browser
WAIT_MS = settings.BROWSER_TIMEOUT * 1000
A_NUMBER = re.compile(r"^\d+$")
HAS_A_DIGIT = re.compile(r"\d")


@pytest.fixture
def app():
    """A fresh app per test, so one test's clients never change another's user count."""
    with Harness() as harness:
        yield start_stack(harness, lesson01.start, SOLUTIONS / "01_basics")


@pytest.fixture
def open_chat(browser, app):
    """open_chat() -> a page of the chat in its own browser context (a separate user)."""
    contexts = []

    def open_page():
        context = browser.new_context()
        contexts.append(context)
        page = context.new_page()
        page.goto(app.url + "/")
        expect(page.locator("#status")).to_have_text("connected", timeout=WAIT_MS)
        return page

    yield open_page
    for context in contexts:
        context.close()


def user_count(page) -> int:
    count = page.locator("#user-count")
    expect(count).to_have_text(A_NUMBER, timeout=WAIT_MS)
    return int(count.text_content())


def test_a_message_typed_in_one_page_appears_in_the_other(open_chat):
    page_a, page_b = open_chat(), open_chat()
    page_a.fill("#name", "ada")
    page_a.fill("#text", "hello from page A")
    page_a.press("#text", "Enter")

    for page in (page_b, page_a):
        last = page.locator("#messages li").last
        expect(last).to_contain_text("hello from page A", timeout=WAIT_MS)
        expect(last.locator(".name")).to_have_text("ada")
    expect(page_a.locator("#text")).to_have_value("")
    expect(page_a.locator("#error")).to_have_text("")


def test_the_page_upgrades_to_websocket(open_chat):
    page = open_chat()
    expect(page.locator("#transport")).to_have_text("websocket", timeout=WAIT_MS)


def test_the_user_count_drops_when_another_page_closes(open_chat):
    page_a = open_chat()
    alone = user_count(page_a)
    page_b = open_chat()
    expect(page_a.locator("#user-count")).to_have_text(str(alone + 1), timeout=WAIT_MS)
    expect(page_b.locator("#user-count")).to_have_text(str(alone + 1), timeout=WAIT_MS)
    page_b.context.close()
    expect(page_a.locator("#user-count")).to_have_text(str(alone), timeout=WAIT_MS)


def test_the_page_works_offline_without_errors(browser, app):
    """Everything the page loads comes from the app itself (no CDN), and nothing throws."""
    context = browser.new_context()
    try:
        page = context.new_page()
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(app.url + "/")
        expect(page.locator("#status")).to_have_text("connected", timeout=WAIT_MS)
        page.click("#time-button")
        expect(page.locator("#server-time")).to_have_text(HAS_A_DIGIT, timeout=WAIT_MS)
        foreign = [url for url in requested if not url.startswith((app.url, "data:"))]
        assert not foreign, f"the page loaded from outside the app: {foreign}"
        assert any("/vendor/socket.io" in url for url in requested), requested
        assert page.page_errors() == []
        assert [m.text for m in page.console_messages() if m.type == "error"] == []
    finally:
        context.close()
