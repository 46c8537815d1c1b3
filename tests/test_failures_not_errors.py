"""What a check's exception becomes: a student's timeout or lost connection is a FAIL with sent,
expected and received; colour codes and the browser's network noise stay out of the report."""

from __future__ import annotations

import requests
import socketio

from autograder.browser import relevant
from autograder.checks import Check
from autograder.report import FAIL, Result
from autograder.runner import start_hint, student_failure

CHECK = Check("2.7", "the page shows the history", 2, lambda ctx: None, "")


class TimeoutError(Exception):  # noqa: A001 - Playwright's own name, from its own module
    pass


TimeoutError.__module__ = "playwright._impl._errors"


def test_a_playwright_timeout_is_a_failure_with_sent_expected_received():
    failure = student_failure(
        TimeoutError("Locator.text_content: Timeout 1000ms exceeded.\nCall log:\n  - waiting"),
        CHECK,
    )
    assert failure is not None
    assert "Timeout 1000ms exceeded" in failure.received
    assert failure.sent and failure.expected
    assert "the page shows the history" in failure.sent


def test_an_http_read_timeout_and_a_lost_namespace_are_failures():
    for error in (
        requests.exceptions.ReadTimeout("read timed out"),
        socketio.exceptions.BadNamespaceError("/chat is not a connected namespace."),
        socketio.exceptions.TimeoutError(),
        ConnectionResetError("reset by peer"),
    ):
        failure = student_failure(error, CHECK)
        assert failure is not None, error
        assert failure.sent and failure.expected and failure.received


def test_a_defect_of_the_grader_stays_an_error():
    assert student_failure(NameError("name 'x' is not defined"), CHECK) is None


def test_colour_codes_are_taken_out_of_a_result():
    result = Result("1.1", "c", "t", 0, 1, FAIL, 0.0, summary="\x1b[31mWARNING\x1b[0m: This is")
    assert result.summary == "WARNING: This is"


def test_the_browsers_network_noise_is_not_a_page_problem():
    assert not relevant("Failed to load resource: the server responded with a status of 400 ()")
    assert not relevant("WebSocket connection to 'ws://127.0.0.1:1/socket.io/' failed")
    assert relevant("Uncaught TypeError: messages.forEach is not a function")


def test_a_notebook_student_is_not_told_to_run_make(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    assert "make run" in start_hint(app)
    (tmp_path / "02_namespaces.ipynb").write_text("{}")
    assert "make run" not in start_hint(app)
