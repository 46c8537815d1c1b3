"""Lesson 03 in real Chromium: start a report, watch the bar reach 100 % and the result; a page
reloaded mid-report resyncs from the server and still ends with the result.

`browser` is pytest-playwright's fixture, set up for Debian's Chromium in tests/conftest.py."""

import pytest

from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.services import start_redis
from autograder.stages import lesson03
from autograder.stages.common import TOKENS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 15_000
# 2 s reports (the grader's take 0.5 s): a page reloaded "mid-report" must come back before the end.
STAGE_STEPS, STEP_SECONDS = 10, 0.2


@pytest.fixture
def app():
    with Harness() as harness:
        redis = start_redis(harness)
        scope = harness.scope()
        env = {
            **lesson03.grading_env(scope, redis.url),
            "REPORT_STEPS": str(STAGE_STEPS),
            "REPORT_STEP_SECONDS": str(STEP_SECONDS),
        }
        yield lesson03.start_with(scope, SOLUTIONS / "03_celery_rooms", redis, env)


def signed_in(page, url: str, user: str):
    from playwright.sync_api import expect

    page.goto(url + "/")
    page.fill("#token", TOKENS[user])
    page.click("#login-form button")
    expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    return page


def test_the_progress_bar_reaches_100_and_shows_the_result(browser, app):
    from playwright.sync_api import expect

    page = signed_in(browser.new_page(), app.url, "alice")
    page.fill("#report-title", "Weekly chat")
    page.click("#start-report")
    expect(page.locator("#report-state")).to_have_text("running", timeout=TIMEOUT_MS)
    halfway = page.eval_on_selector("#report-progress", "bar => bar.value")
    expect(page.locator("#report-progress")).to_have_js_property("value", 100, timeout=TIMEOUT_MS)
    expect(page.locator("#report-state")).to_have_text("done", timeout=TIMEOUT_MS)
    expect(page.locator("#report-percent")).to_have_text("100%")
    worker_pid = app.worker.pid
    expect(page.locator("#report-result")).to_contain_text("Weekly chat: ", timeout=TIMEOUT_MS)
    expect(page.locator("#report-result")).to_contain_text(f"worker pid {worker_pid}")
    assert halfway < 100
    assert page.locator("#error").text_content() == ""


def test_a_page_reloaded_mid_report_resyncs_and_ends_with_the_result(browser, app):
    from playwright.sync_api import expect

    page = signed_in(browser.new_page(), app.url, "bob")
    page.click("#start-report")
    expect(page.locator("#report-state")).to_have_text("running", timeout=TIMEOUT_MS)
    page.reload()  # every event sent while the page reloads is lost; the state is not
    signed_in(page, app.url, "bob")
    expect(page.locator("#report-state")).to_have_text("done", timeout=TIMEOUT_MS)
    expect(page.locator("#report-progress")).to_have_js_property("value", 100)
    expect(page.locator("#report-result")).to_contain_text("chat messages")


def test_the_page_shows_the_rate_limit(browser, app):
    from playwright.sync_api import expect

    page = signed_in(browser.new_page(), app.url, "carol")
    for _ in range(4):  # config.RATE_LIMITS: 3 at once, then one every 5 s
        page.click("#start-report")
    expect(page.locator("#error")).to_contain_text(
        "report: too many start_report", timeout=TIMEOUT_MS
    )
