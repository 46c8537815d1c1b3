"""A broken or hanging submission gets a clear failure within its time limit, the other checks
still run, and nothing is left running. Each case is lesson 01's solution, broken one way,
graded through the real CLI."""

from pathlib import Path

import pytest

from autograder.checks import load_checks

LESSON = load_checks("01")
START_TIMEOUT = 3  # seconds; AUTOGRADER_APP_START_TIMEOUT for these runs
RUN_BOUND = 25.0  # seconds a whole run of a broken app may take at most, start to exit


def break_app(stage: Path, before: str, insert: str) -> None:
    """Insert ``insert`` (one line, indented like ``before``) above the line holding ``before``."""
    app = stage / "app.py"
    lines = app.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if before in line)
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines.insert(index, f"{indent}{insert}\n")
    app.write_text("".join(lines))


def grade_broken(grader, stage: Path, *flags: str):
    run = grader(
        "01",
        stage,
        stage.parent / "report.json",
        *flags,
        env={"AUTOGRADER_APP_START_TIMEOUT": str(START_TIMEOUT)},
    )
    assert run.report is not None, run.output
    return run


def statuses(run) -> dict[str, str]:
    return {r["check"]: r["status"] for r in run.report["results"]}


def needs_browser(request, flags=()) -> tuple[str, ...]:
    """The flags that leave out the browser check when Chromium is missing outside CI."""
    try:
        request.getfixturevalue("chromium_path")
    except pytest.skip.Exception:
        others = sorted({c.exercise for c in LESSON.checks if not c.browser})
        return (*flags, "--only", ",".join(others))
    return tuple(flags)


@pytest.mark.parametrize(
    "before, insert, shown",
    [
        ("MAX_MESSAGE_LENGTH = 500", "MAX_MESSAGE_LENGTH = = 500", "SyntaxError"),
        ("from flask import Flask", "import flask_socketio_does_not_exist", "ModuleNotFoundError"),
        ("socketio.run(app", 'raise RuntimeError("boom at start-up")', "boom at start-up"),
    ],
    ids=["syntax-error", "failing-import", "crash-at-start-up"],
)
def test_an_app_that_exits_at_start_up(
    before, insert, shown, stage_copy, grader, leftovers, tmp_path
):
    stage = stage_copy("01")
    break_app(stage, before, insert)
    run = grade_broken(grader, stage)

    assert run.returncode == 1, run.output
    assert run.seconds < RUN_BOUND, f"took {run.seconds:.1f} s"
    assert "it did not start (see below)" in run.stdout
    assert set(statuses(run).values()) == {"FAIL"}
    for result in run.report["results"]:
        assert result["summary"] == "your app did not start, so this check could not run"
        assert "app exited with code 1 before answer on http://127.0.0.1:" in result["received"]
        assert shown in result["received"], "the student sees the traceback's last lines"
    assert "exited with code 1" in run.report["setup_error"]
    assert "Traceback" not in run.stderr, "the grader itself must not crash"
    leftovers.assert_none(tmp_path)


def test_an_app_that_never_opens_its_port(stage_copy, grader, leftovers, tmp_path):
    stage = stage_copy("01")
    break_app(stage, "socketio.run(app", "time.sleep(10**6)")
    run = grade_broken(grader, stage)

    assert run.returncode == 1, run.output
    assert run.seconds < START_TIMEOUT + RUN_BOUND / 2, f"took {run.seconds:.1f} s"
    assert set(statuses(run).values()) == {"FAIL"}
    received = run.report["results"][0]["received"]
    assert "did not get to answer on http://127.0.0.1:" in received
    assert f"within {START_TIMEOUT} s" in received
    assert "Lesson 01 chat on http://" in received, "what the app printed is shown"
    assert "HOST=127.0.0.1 PORT=" in received and "does it read them" in received
    leftovers.assert_none(tmp_path)


def test_a_handler_that_hangs_fails_its_check_and_the_others_still_pass(
    stage_copy, grader, leftovers, tmp_path, request
):
    stage = stage_copy("01")
    break_app(stage, 'return {"server_time": time.time()}', "time.sleep(10**6)")
    run = grade_broken(grader, stage, *needs_browser(request))

    assert run.returncode == 1, run.output
    assert run.seconds < RUN_BOUND, f"took {run.seconds:.1f} s"
    hung = {c.name for c in LESSON.checks if c.exercise == "1.3"}
    assert {name for name, status in statuses(run).items() if status != "PASS"} == hung
    [result] = [r for r in run.report["results"] if r["exercise"] == "1.3"]
    assert "no acknowledgement for 'server_time'" in result["summary"]
    assert "the handler did not answer" in result["received"]
    assert "stuck" in result["received"]
    leftovers.assert_none(tmp_path, run.ports)


def test_a_check_over_its_time_limit_is_stopped_and_the_app_restarted(
    stage_copy, grader, leftovers, tmp_path
):
    stage = stage_copy("01")
    break_app(stage, 'return {"server_time": time.time()}', "time.sleep(10**6)")
    # 1.3's acknowledgement wait (settings.EVENT_TIMEOUT, 3 s) outlasts a 1.5 s time limit.
    run = grade_broken(grader, stage, "--only", "1.3,1.4", "--time-limit", "1.5")

    assert run.seconds < RUN_BOUND, f"took {run.seconds:.1f} s"
    by_exercise = {r["exercise"]: r for r in run.report["results"]}
    stuck = by_exercise["1.3"]
    assert stuck["status"] == "FAIL"
    assert stuck["summary"] == "the check did not finish within 1.5 s"
    assert "stuck inside a handler" in stuck["received"]
    assert by_exercise["1.4"]["status"] == "PASS", "the next check gets a fresh app"
    assert len(run.ports) == 2, "the stuck app was stopped and a new one started"
    leftovers.assert_none(tmp_path, run.ports)


def test_an_app_that_dies_inside_a_handler_is_reported_and_restarted(
    stage_copy, grader, leftovers, tmp_path
):
    stage = stage_copy("01")
    break_app(stage, 'return {"server_time": time.time()}', "os._exit(3)")
    run = grade_broken(grader, stage, "--only", "1.3,1.4")

    by_exercise = {r["exercise"]: r for r in run.report["results"]}
    assert by_exercise["1.3"]["status"] == "FAIL"
    assert "your app exited while this check ran" in by_exercise["1.3"]["summary"]
    assert by_exercise["1.4"]["status"] == "PASS", run.output
    assert run.returncode == 1
    leftovers.assert_none(tmp_path, run.ports)


def test_a_port_taken_by_another_program_is_retried_on_a_new_one(
    stage_copy, grader, leftovers, tmp_path
):
    stage = stage_copy("01")
    first_time = (
        'if not os.path.exists("started-once"): '
        'open("started-once", "w").close(); '
        'print("OSError: [Errno 98] Address already in use"); '
        "raise SystemExit(1)"
    )
    break_app(stage, "socketio.run(app", first_time)
    run = grade_broken(grader, stage, "--only", "1.3")

    assert (stage / "started-once").exists(), "the first start really hit the taken port"
    assert run.returncode == 0, run.output
    assert len(run.ports) == 1
    leftovers.assert_none(tmp_path, run.ports)
