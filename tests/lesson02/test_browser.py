"""Lesson 02 in real Chromium: sign in, chat across two pages, a late page sees the history.

The `browser` fixture is pytest-playwright's, set up for Debian's Chromium in tests/conftest.py;
every browser test shares it (a second sync Playwright in the same process cannot start)."""

import uuid

import pytest

from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.stages import Stack, lesson02, start_stack
from autograder.stages.common import TOKENS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 10_000


@pytest.fixture
def app():
    with Harness() as harness:
        running: Stack = start_stack(harness, lesson02.start, SOLUTIONS / "02_namespaces")
        yield running


def signed_in(browser, url: str, user: str):
    page = browser.new_page()
    page.goto(url + "/")
    page.fill("#token", TOKENS[user])
    page.click("#login-form button")
    from playwright.sync_api import expect

    expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    expect(page.locator("#user")).to_have_text(user, timeout=TIMEOUT_MS)
    return page


def say(page, text: str) -> None:
    page.fill("#text", text)
    page.click("#chat-form button")


def test_two_pages_chat_and_a_late_page_sees_history(browser, app):
    from playwright.sync_api import expect

    alice = signed_in(browser, app.url, "alice")
    bob = signed_in(browser, app.url, "bob")
    expect(alice.locator("#notices li").last).to_have_text(
        "bob joined the chat", timeout=TIMEOUT_MS
    )
    expect(bob.locator("#transport")).to_have_text("websocket", timeout=TIMEOUT_MS)

    hello, reply = f"hello bob {uuid.uuid4().hex[:6]}", f"hi alice {uuid.uuid4().hex[:6]}"
    say(alice, hello)
    expect(bob.locator("#messages li").last).to_have_text(f"alice{hello}", timeout=TIMEOUT_MS)
    say(bob, reply)
    expect(alice.locator("#messages li").last).to_have_text(f"bob{reply}", timeout=TIMEOUT_MS)

    carol = signed_in(browser, app.url, "carol")
    texts = carol.locator("#messages li")
    expect(texts.nth(-2)).to_have_text(f"alice{hello}", timeout=TIMEOUT_MS)
    expect(texts.last).to_have_text(f"bob{reply}", timeout=TIMEOUT_MS)

    bob.close()
    expect(alice.locator("#notices li").last).to_have_text("bob left the chat", timeout=TIMEOUT_MS)


def test_a_refused_token_shows_the_reason_and_bad_input_shows_an_error(browser, app):
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(app.url + "/")
    page.fill("#token", "no-such-token")
    page.click("#login-form button")
    expect(page.locator("#status")).to_have_text("refused", timeout=TIMEOUT_MS)
    expect(page.locator("#error")).to_have_text("invalid token", timeout=TIMEOUT_MS)

    page.fill("#token", TOKENS["alice"])
    page.click("#login-form button")
    expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    page.evaluate("document.getElementById('text').removeAttribute('maxlength')")
    say(page, "x" * 501)
    expect(page.locator("#error")).to_contain_text("not sent", timeout=TIMEOUT_MS)
    expect(page.locator("#status")).to_have_text("connected")
