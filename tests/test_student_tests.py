"""Students' own tests, graded by the bugs they catch (Exercises 2.9 and 3.7), through the real
CLI: a full suite (the solution's) catches every broken variant, a thin one gets partial credit
naming what it missed by its behaviour, an empty one gets zero, and what the tests print never
reaches the student. Each stage's own tests pass on its reference app."""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys

import pytest

from autograder.broken_variants import VARIANTS
from autograder.harness import Harness
from autograder.paths import SOLUTIONS
from autograder.student_tests import (
    CRASHED,
    FAILED,
    NO_TESTS,
    NOT_RUN,
    PASSED,
    REFERENCE,
    TIMED_OUT,
    ForkServer,
    reference_dir,
    run_all,
    scratch_copy,
)

STAGES = sorted(p.name for p in SOLUTIONS.iterdir() if (p / "tests" / "conftest.py").is_file())
EXERCISE = {"02": "2.9", "03": "3.7"}
SECRET = "printed-by-a-students-test-7f3a"  # what a test prints: must never be shown


def pytest_in(folder, *paths: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_passes_its_own_tests(stage):
    done = pytest_in(SOLUTIONS / stage, "tests")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


@pytest.mark.parametrize(
    "lesson, variant",
    [(lesson, v) for lesson, variants in VARIANTS.items() for v in variants],
    ids=lambda x: getattr(x, "name", x),
)
def test_each_variant_applies_and_the_solutions_tests_catch_it(lesson, variant, tmp_path):
    reference = reference_dir(lesson)
    scratch_copy(reference, reference / "tests", tmp_path)
    variant.apply(tmp_path)
    for edit in variant.edits:
        py_compile.compile(str(tmp_path / edit.file), doraise=True)
    done = pytest_in(tmp_path, "tests")
    assert done.returncode == 1, f"{variant.name} went unnoticed:\n{done.stdout[-2000:]}"
    # Caught by an assertion about behaviour, not by the handler crashing on a broken edit.
    assert "internal server error" not in done.stdout, done.stdout[-2000:]


def suite_of(stage_copy, lesson: str, tests: str | None):
    """A copy of the solution whose exercise test file holds ``tests`` (None: no tests)."""
    stage = stage_copy(lesson)
    target = stage / "tests" / ("test_sockets.py" if lesson == "02" else "test_reports.py")
    target.write_text(tests or '"""No tests yet."""\n')
    return stage


def graded_exercise(grader, stage, lesson: str):
    run = grader(lesson, stage, stage.parent / "report.json", "--only", EXERCISE[lesson])
    assert run.report is not None, run.output
    return run, {r["check"]: r for r in run.report["results"]}


ONE_TEST = f'''
def test_an_unknown_token_is_refused(connect):
    print("{SECRET}", open("auth.py").read())
    assert not connect({{"token": "not-a-token"}}).is_connected("/chat")
'''


def test_a_thin_suite_gets_partial_credit_naming_what_it_missed(stage_copy, grader):
    run, results = graded_exercise(grader, suite_of(stage_copy, "02", ONE_TEST), "02")
    passed = {name for name, r in results.items() if r["status"] == "PASS"}
    assert passed == {"your_tests_pass_on_the_reference", "tests_catch_unknown_token_accepted"}
    assert 0 < run.report["score"] < run.report["max_score"]
    missed = results["tests_catch_broadcast_skips_sender"]
    assert missed["summary"] == "A broadcast that skips the sender went unnoticed"
    assert missed["received"] == "every test passed"
    for variant in VARIANTS["02"]:
        if f"tests_catch_{variant.name}" not in passed:
            assert variant.behaviour in run.stdout
            assert not any(edit.new in run.stdout for edit in variant.edits), "code was shown"
    assert SECRET not in run.output and SECRET not in str(run.report)


def test_an_empty_suite_gets_zero(stage_copy, grader):
    run, results = graded_exercise(grader, suite_of(stage_copy, "02", None), "02")
    assert run.report["score"] == 0, run.stdout
    assert {r["status"] for r in results.values()} == {"FAIL"}
    assert "pytest found no tests" in results["your_tests_pass_on_the_reference"]["received"]


FAILS_ON_THE_REFERENCE = f'''
def test_that_fails_and_shows_the_reference(connect):
    assert False, "{SECRET}" + open("resources/socket/chat.py").read()
'''


def test_a_suite_failing_on_the_reference_earns_nothing_and_its_output_stays_hidden(
    stage_copy, grader
):
    run, results = graded_exercise(grader, suite_of(stage_copy, "02", FAILS_ON_THE_REFERENCE), "02")
    assert run.report["score"] == 0
    assert "at least one test failed" in results["your_tests_pass_on_the_reference"]["received"]
    assert SECRET not in run.output and SECRET not in str(run.report)
    assert "def on_send_message" not in run.output


@pytest.mark.slow
def test_the_rooms_suite_of_lesson_03_catches_every_variant_and_a_thin_one_does_not(
    stage_copy, grader
):
    thin = """
def test_the_starter_hears_of_its_report(signed_in, worker):
    alice = signed_in("alice", "/reports")
    alice.emit("start_report", {"title": "t"}, namespace="/reports", callback=True)
    worker.run()
    assert any(e["name"] == "result" for e in alice.get_received("/reports"))
"""
    run, results = graded_exercise(grader, suite_of(stage_copy, "03", thin), "03")
    passed = {name for name, r in results.items() if r["status"] == "PASS"}
    assert passed == {
        "your_report_tests_pass_on_the_reference",
        "tests_catch_starter_not_in_the_room",
    }, run.stdout
    assert "went unnoticed" in results["tests_catch_progress_to_everyone"]["summary"]


def test_the_grader_copies_no_link_out_of_the_tests_folder(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text("def test_x():\n    pass\n")
    (tests / "secrets.py").symlink_to("/etc/hostname")
    target = tmp_path / "scratch"
    scratch_copy(reference_dir("02"), tests, target)
    assert (target / "tests" / "test_x.py").is_file()
    assert not (target / "tests" / "secrets.py").exists()
    assert not (target / "tests" / "test_sockets.py").exists(), "the solution's tests stay out"
    shutil.rmtree(target)


OUTCOME_OF = {
    "def test_x():\n    pass\n": PASSED,
    "def test_x():\n    assert False\n": FAILED,
    "import no_such_module\n": NOT_RUN,
    "x = 1\n": NO_TESTS,
    "import time\ndef test_x():\n    time.sleep(60)\n": TIMED_OUT,
    # the exit codes the server itself uses for a time-out or a crash are a crash from a test
    "import os\ndef test_x():\n    os._exit(100)\n": CRASHED,
    "import os, signal\ndef test_x():\n    os.kill(os.getpid(), signal.SIGKILL)\n": CRASHED,
}


def test_the_fork_server_reports_each_run_by_its_outcome_side_by_side():
    with Harness(network=False) as harness:
        server = ForkServer(harness)
        assert server.usable, harness.processes[0].log_tail()
        apps = {}
        for number, code in enumerate(OUTCOME_OF):
            apps[str(number)] = harness.work_dir / str(number) / "app"
            (apps[str(number)] / "tests").mkdir(parents=True)
            (apps[str(number)] / "tests" / "test_x.py").write_text(code)
        runs = server.run(apps, ("tests/test_x.py",), time_limit=3)
        server.close()
    assert [runs[str(n)].outcome for n in range(len(OUTCOME_OF))] == list(OUTCOME_OF.values())


def test_where_the_server_cannot_contain_its_runs_each_gets_a_process_of_its_own(monkeypatch):
    monkeypatch.setattr(ForkServer, "usable", False, raising=False)
    monkeypatch.setattr(
        ForkServer, "__init__", lambda self, harness: setattr(self, "_control", None)
    )
    reference = reference_dir("02")
    variant = VARIANTS["02"][0]
    runs = run_all(reference / "tests", reference, ("tests/test_sockets.py",), (variant,))
    assert {name: run.outcome for name, run in runs.items()} == {
        REFERENCE: PASSED,
        variant.name: FAILED,
    }
