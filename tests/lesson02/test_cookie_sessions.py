"""Lesson 02's cookie sessions in real Chromium: what the lesson text claims about cookies and
origins, and the hijacking check failing on an app that accepts any origin."""

import pytest

from autograder.checks.lesson02 import OPEN_SOCKET_JS, SIGN_IN_JS
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.stages import Stack, lesson02, start_stack
from autograder.stages.common import TOKENS

pytestmark = pytest.mark.browser
WAIT_MS = 10_000
HIJACK_CHECK = "another_origin_cannot_use_the_cookie"
INIT_APP_ORIGINS = 'cors_allowed_origins=checked_origins(app.config["CORS_ALLOWED_ORIGINS"]),'


@pytest.fixture
def app():
    with Harness() as harness:
        running: Stack = start_stack(harness, lesson02.start, SOLUTIONS / "02_namespaces")
        yield running


def test_a_cookie_set_on_127_0_0_1_is_not_sent_to_localhost(browser, app):
    """The cookie-domain trap: the same server, but a cookie belongs to the host it was set on."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(app.url + "/")
    assert page.evaluate(SIGN_IN_JS, TOKENS["alice"]) == 200
    assert page.evaluate(OPEN_SOCKET_JS, WAIT_MS) == "connected as alice"

    localhost = app.url.replace("127.0.0.1", "localhost")  # an allowed origin, no cookie
    other = context.new_page()
    other.goto(localhost + "/")
    outcome = other.evaluate(OPEN_SOCKET_JS, WAIT_MS)
    assert outcome.startswith("refused: authentication required"), outcome
    context.close()


@pytest.mark.parametrize(
    "origins, status",
    [
        (None, "PASS"),
        ('cors_allowed_origins="*",', "FAIL"),
        ("cors_allowed_origins=[],", "FAIL"),  # [] turns the check off
    ],
    ids=["reference", "any-origin", "checking-off"],
)
def test_the_hijacking_check_fails_on_an_app_that_accepts_any_origin(
    origins, status, stage_copy, grader, chromium_path
):
    stage = stage_copy("02")
    if origins:
        factory = stage / "factory.py"
        assert INIT_APP_ORIGINS in factory.read_text()
        factory.write_text(factory.read_text().replace(INIT_APP_ORIGINS, origins))
    run = grader("02", stage, stage.parent / "r.json", "--checks", HIJACK_CHECK)
    (result,) = run.report["results"]
    assert result["status"] == status, run.stdout
    if status == "FAIL":
        assert "cross-site WebSocket hijacking" in result["summary"]
        assert result["received"].startswith("connected as alice")
