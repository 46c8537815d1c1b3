"""Lesson 04 in real Chromium through nginx: two pages on two gunicorn instances chat with each
other over websocket only, and one page follows a report that the Celery worker builds.

`browser` is pytest-playwright's fixture, set up for Debian's Chromium in tests/conftest.py."""

import pytest
import requests

from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.production import find_nginx
from autograder.stages import lesson04, start_stack
from autograder.stages.lesson04 import TOKENS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000
PAGES = 4  # nginx takes turns, so some of them land on each instance


@pytest.fixture
def app():
    if find_nginx() is None:
        pytest.skip("nginx is not installed")
    with Harness() as harness:
        yield start_stack(harness, lesson04.start, SOLUTIONS / "04_production")


def signed_in(page, url: str, user: str):
    from playwright.sync_api import expect

    page.goto(url + "/")
    page.fill("#token", TOKENS[user])
    page.click("#login-form button")
    expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    expect(page.locator("#transport")).to_have_text("websocket")
    expect(page.locator("#instance")).not_to_have_text("—", timeout=TIMEOUT_MS)
    return page


@pytest.fixture
def pages(browser):
    """PAGES fresh pages, closed afterwards (the browser lives for the whole session)."""
    opened = [browser.new_page() for _ in range(PAGES)]
    yield opened
    for page in opened:
        page.context.close()


def test_pages_on_two_instances_chat_and_follow_a_report(pages, app):
    from playwright.sync_api import expect

    errors = []
    for index, page in enumerate(pages):
        page.on("pageerror", lambda error: errors.append(str(error)))
        signed_in(page, app.url, "alice")
        if len({p.text_content("#instance") for p in pages[: index + 1]}) == 1:
            # nginx takes turns per request: a page that makes an even number of them would
            # put every page on one instance, so shift the turn by one request.
            requests.get(app.url + "/healthz", timeout=10)
    by_instance = {page.text_content("#instance"): page for page in pages}
    assert len(by_instance) == 2, f"every page landed on {list(by_instance)}"
    first, second = by_instance.values()

    first.fill("#text", "hello from the other instance")
    first.click("#chat-form button")
    expect(second.locator("#messages li").last).to_contain_text(
        "hello from the other instance", timeout=TIMEOUT_MS
    )

    second.click("#start-report")
    expect(second.locator("#report-progress")).to_have_js_property("value", 100, timeout=TIMEOUT_MS)
    expect(second.locator("#report-state")).to_have_text("done")
    worker_pid = str(app.worker.pid)
    expect(second.locator("#report-result")).to_contain_text(f"worker pid {worker_pid}")
    assert not errors, errors
