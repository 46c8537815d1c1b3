"""The course's invariant, through the real CLI: every check passes on solutions/NN and
fails on the untouched lessons/NN starter, and every failure tells the student what to do.

Each lesson with autograder/checks/lessonNN.py and solutions/NN_* joins automatically.
"""

import re
from collections import defaultdict

import pytest

from autograder.checks import load_checks
from autograder.paths import COURSE_ROOT, SOLUTIONS, stage_dir_name

BAD_INPUT = 2


@pytest.fixture
def lesson(gradable_lesson, request):
    lesson = load_checks(gradable_lesson)
    if any(check.browser for check in lesson.checks):
        request.getfixturevalue("chromium_path")  # skips (or fails in CI) without Chromium
    return lesson


def by_exercise(report: dict) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for result in report["results"]:
        grouped[result["exercise"]].append(result)
    return grouped


def test_solution_passes_every_check(lesson, graded):
    run = graded(lesson.number, "solution")
    failed = [f"{r['exercise']} {r['check']}: {r['status']}" for r in run.report["results"]]
    failed = [line for line in failed if not line.endswith("PASS")]
    assert not failed, run.output
    assert run.returncode == 0, run.output
    assert run.report["passed"] is True
    assert run.report["score"] == run.report["max_score"] == sum(c.points for c in lesson.checks)


def test_starter_fails_every_check(lesson, graded):
    run = graded(lesson.number, "starter")
    assert run.returncode != 0, run.output
    assert run.report["passed"] is False
    assert run.report["score"] == 0, run.output
    statuses = {r["check"]: r["status"] for r in run.report["results"]}
    assert statuses == {check.name: "FAIL" for check in lesson.checks}, run.output
    for exercise in lesson.manifest.ids:
        assert by_exercise(run.report)[exercise], f"exercise {exercise} has no check"


def test_starter_failures_tell_the_student_what_to_do(lesson, graded):
    run = graded(lesson.number, "starter")
    readme = f"lessons/{stage_dir_name(lesson.number)}/README.md"
    assert (COURSE_ROOT / readme).is_file(), f"the hints point at {readme}, which is missing"
    for result in run.report["results"]:
        where = f"{result['exercise']} {result['check']}"
        for part in ("summary", "sent", "expected", "received", "hint"):
            assert str(result[part] or "").strip(), f"{where}: empty {part!r}"
        assert readme in result["hint"], f"{where}: the hint does not name {readme}"
        assert f"Exercise {result['exercise']}" in result["hint"], where
        assert result["summary"] in run.stdout, f"{where}: the failure is not printed"
    assert f"Work on: Exercise {', '.join(lesson.manifest.ids)}." in run.stdout


def test_report_json_matches_what_was_printed(lesson, graded):
    for which in ("solution", "starter"):
        run = graded(lesson.number, which)
        report = run.report
        assert [r["check"] for r in report["results"]] == [c.name for c in lesson.checks]
        assert report["lesson"] == lesson.number
        score = re.search(r"^Score: (\d+)/(\d+)", run.stdout, re.MULTILINE)
        assert score, run.stdout
        assert (int(score[1]), int(score[2])) == (report["score"], report["max_score"])


def test_progress_is_printed_as_each_check_finishes(lesson, graded):
    run = graded(lesson.number, "starter")  # the slow run: its checks wait for timeouts
    total = len(lesson.checks)
    progress = [(at, line) for at, line in run.lines if re.match(r"\[\s*\d+/\d+\] ", line)]
    assert [line.split("]")[0] for _, line in progress] == [
        f"[{n:>{len(str(total))}}/{total}" for n in range(1, total + 1)
    ]
    first_at, last_at = progress[0][0], progress[-1][0]
    # Printed as it happens, not all at the end: the lines are spread over the run.
    assert last_at - first_at > 0.5 * (run.seconds - first_at), run.lines
    assert run.lines[0][1].startswith(f"Grading lesson {lesson.number} in ")


def test_only_grades_the_chosen_exercise(lesson, grader, tmp_path):
    exercise = next(c.exercise for c in lesson.checks if not c.browser)
    chosen = [c.name for c in lesson.checks if c.exercise == exercise]
    solution = SOLUTIONS / stage_dir_name(lesson.number)
    run = grader(lesson.number, solution, tmp_path / "r.json", "--only", exercise)
    assert run.returncode == 0, run.output
    assert [r["check"] for r in run.report["results"]] == chosen


def test_a_missing_browser_is_a_skip_that_says_what_to_install(gradable_lesson, grader, tmp_path):
    from autograder.browser import INSTALL_ADVICE

    lesson = load_checks(gradable_lesson)
    browser_checks = [c for c in lesson.checks if c.browser]
    if not browser_checks:
        pytest.skip(f"lesson {lesson.number} has no browser checks")
    exercise = browser_checks[0].exercise
    solution = SOLUTIONS / stage_dir_name(lesson.number)
    run = grader(
        lesson.number,
        solution,
        tmp_path / "r.json",
        "--only",
        exercise,
        env={"CHROMIUM_PATH": str(tmp_path / "no-chromium-here")},
    )
    skipped = [r for r in run.report["results"] if r["status"] == "SKIP"]
    assert [r["check"] for r in skipped] == [
        c.name for c in browser_checks if c.exercise == exercise
    ]
    assert all(r["summary"] == INSTALL_ADVICE for r in skipped)
    assert "could not run here (SKIP" in run.stdout
    assert run.returncode == 1, "a skipped check is not a pass"


def test_an_explicit_chromium_path_is_the_only_one_tried(monkeypatch, tmp_path):
    from autograder.browser import find_chromium

    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path / "nowhere"))
    assert find_chromium() is None
    monkeypatch.setenv("CHROMIUM_PATH", str(tmp_path))  # a folder is not a browser
    assert find_chromium() is None
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CHROMIUM_PATH", str(fake))
    assert find_chromium() == fake


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["01", "--only", "9.9"], "has no exercise 9.9"),
        (["99"], "No stage '99'"),
        (["one"], "is a number"),
        (["01", "/no/such/folder"], "No folder /no/such/folder"),
        (["01", "--json", "/no/such/folder/r.json"], "does not exist"),
        (["01", "--time-limit", "0"], "positive number"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(arguments, message):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "autograder", *arguments],
        cwd=COURSE_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == BAD_INPUT, done
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "starting the app" not in done.stdout
