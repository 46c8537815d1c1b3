"""The 4.6 check ("don't block the hub") passes on the reference, and fails on a copy whose
CPU work never gives the hub a turn, and on the untouched starter."""

import io

from autograder.runner import grade

YIELD_LINE = "    socketio.sleep(0)\n"


def grade_hub_check(stage):
    report = grade("04", stage, only={"4.6"}, out=io.StringIO())
    (result,) = report.results
    return result


def blocking(stage):
    """The reference with let_others_run() doing nothing: the statistics keep the CPU."""
    hub = stage / "hub.py"
    text = hub.read_text()
    assert text.count(YIELD_LINE) == 1, "the yield moved: update this test"
    hub.write_text(text.replace(YIELD_LINE, "    pass  # never yields\n"))
    return stage


def test_the_hub_check_passes_on_the_reference(stage_copy):
    result = grade_hub_check(stage_copy("04"))
    assert result.status == "PASS", (result.summary, result.received)


def test_the_hub_check_fails_on_a_blocking_handler(stage_copy):
    result = grade_hub_check(blocking(stage_copy("04")))
    assert result.status == "FAIL", result
    assert "stalled another client" in result.summary, result.summary
    assert "answered during the work" in result.received, result.received


def test_the_hub_check_fails_on_the_starter(stage_copy):
    result = grade_hub_check(stage_copy("04", "starter"))
    assert result.status == "FAIL", result  # (4.1 is not done there either: no websocket yet)
