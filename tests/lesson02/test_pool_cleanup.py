"""The 2.2 check tells a leaking BaseSocket from a clean one, for the reason the lesson gives."""

import io

from autograder.runner import grade

REMOVE_LINE = "            db.session.remove()\n"  # in on_disconnect's finally
PER_CONNECTION_SCOPE = '"scopefunc": session_scope, '


def grade_pool_check(stage):
    report = grade("02", stage, only={"2.2"}, out=io.StringIO())
    (result,) = report.results
    return result


def without_cleanup(stage):
    base = stage / "resources" / "socket" / "base.py"
    text = base.read_text()
    assert text.count(REMOVE_LINE) == 1, "the cleanup line moved: update this test"
    base.write_text(text.replace(REMOVE_LINE, "            pass\n"))
    return stage


def test_pool_check_passes_with_the_cleanup(stage_copy):
    result = grade_pool_check(stage_copy("02"))
    assert result.status == "PASS", (result.summary, result.received)


def test_pool_check_fails_without_the_cleanup(stage_copy):
    result = grade_pool_check(without_cleanup(stage_copy("02")))
    assert result.status == "FAIL", result
    assert "QueuePool limit of size 5 overflow 10 reached" in result.received
    assert "refused" in result.received and "was refused" in result.summary


def test_per_event_sessions_need_no_cleanup(stage_copy):
    """The lesson's claim: Flask-SQLAlchemy's default scope (the app context, fresh for
    every event) is cleaned by Flask's teardown; only the per-connection scope leaks."""
    stage = without_cleanup(stage_copy("02"))
    extensions = stage / "extensions.py"
    text = extensions.read_text()
    assert PER_CONNECTION_SCOPE in text
    extensions.write_text(text.replace(PER_CONNECTION_SCOPE, ""))
    result = grade_pool_check(stage)
    assert result.status == "PASS", (result.summary, result.received)
