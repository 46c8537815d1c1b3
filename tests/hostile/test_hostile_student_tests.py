"""Hostile tests of a student's own (Exercise 2.9), graded through the real CLI: they run with
no network, in a scratch copy thrown away after each run, within their time limit, leaving
nothing running and changing nothing outside; all the student learns is the outcome."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import psutil
import pytest

from autograder.containment import find_sandbox
from autograder.paths import COURSE_ROOT, SOLUTIONS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_sandbox() is None, reason="bubblewrap cannot run here"),
]
REFERENCE_CHECK = "your_tests_pass_on_the_reference"
TIME_LIMIT = 20  # seconds, AUTOGRADER_STUDENT_TESTS_TIME_LIMIT for these runs
# In the command line of what a case starts itself; one per test, since under xdist a sibling
# test's deliberate survivor may be alive on the other worker.
MARKER_PREFIX = "hostile-student-test-marker"
OUTLIVE_SECONDS = 3.0


def fingerprint(*folders: Path) -> dict[str, str]:
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def marked_processes(marker: str) -> list[psutil.Process]:
    alive = []
    for process in psutil.process_iter(["cmdline", "status"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and marker in command:
            alive.append(process)
    return alive


@pytest.fixture
def graded_tests(stage_copy, grader, tmp_path):
    """graded_tests(test_code) -> (run, result of the reference check); nothing outlives the run
    and nothing outside the submission changes (the reference solutions included)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("do not touch")
    watched = [SOLUTIONS, COURSE_ROOT / "course", outside]
    before = fingerprint(*watched)
    marker = f"{MARKER_PREFIX}-{tmp_path.name}"

    def grade(code: str):
        stage = stage_copy("02")
        code = code.replace("MARKER", marker).replace("OUTSIDE", str(outside))
        (stage / "tests" / "test_sockets.py").write_text(code)
        started = time.monotonic()
        run = grader(
            "02",
            stage,
            tmp_path / "report.json",
            "--checks",
            REFERENCE_CHECK,
            env={"AUTOGRADER_STUDENT_TESTS_TIME_LIMIT": str(TIME_LIMIT)},
        )
        took = time.monotonic() - started
        time.sleep(OUTLIVE_SECONDS)
        assert not marked_processes(marker), f"left running: {marked_processes(marker)}"
        assert fingerprint(*watched) == before, "a file outside the submission changed"
        assert run.report is not None, run.output
        (result,) = run.report["results"]
        return run, result, took

    yield grade
    for process in marked_processes(marker):
        process.kill()


def test_a_test_sees_no_network_of_the_grading_run(graded_tests):
    # The student's app listens on the grading run's loopback while the tests run: a test
    # sharing that network would see its port in /proc/net/tcp (state 0A, LISTEN).
    run, result, _ = graded_tests(
        "def test_something_listens_here():\n"
        "    lines = open('/proc/net/tcp').read().splitlines()[1:]\n"
        "    assert any(line.split()[3] == '0A' for line in lines)\n"
    )
    assert result["status"] == "FAIL", "the tests shared the grading run's network"
    assert "at least one test failed" in result["received"]


def test_a_test_that_hangs_is_stopped_at_its_time_limit(graded_tests):
    run, result, took = graded_tests(
        "import subprocess, sys, time\n"
        "def test_forever():\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', 'MARKER'])\n"
        "    time.sleep(600)\n"
    )
    assert result["status"] == "FAIL"
    assert f"did not finish within {TIME_LIMIT} s" in result["received"]
    assert took < 40, f"the run took {took:.0f} s"


def test_writes_stay_in_the_scratch_copy(graded_tests):
    run, result, _ = graded_tests(
        "from pathlib import Path\n"
        "def test_write_everywhere():\n"
        "    Path('auth.py').write_text('# changed by a test')\n"  # the scratch copy: allowed
        "    for target in ['OUTSIDE/victim.txt', 'OUTSIDE/new.txt']:\n"
        "        try:\n"
        "            Path(target).write_text('changed')\n"
        "        except OSError:\n"
        "            pass\n"
    )
    assert result["status"] == "PASS", result  # it ran; the fixture checks nothing changed
