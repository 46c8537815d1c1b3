"""Each lesson's bug hunt (autograder/authoring/bugs.py): its recorded patch applies to the
solution without touching a solution region, so the starter keeps the defect, and its checks
fail on the broken copy through the real CLI. (The solution's full marks: tests/test_grading.py.)
"""

from __future__ import annotations

import shutil

import pytest

from autograder.authoring.bugs import BugError, apply_hunks, bug_of, parse_patch
from autograder.authoring.regions import BEGIN, END, HINT, find_regions, make_starter
from autograder.manifest import all_manifests, load_manifest
from autograder.paths import LESSONS, SOLUTIONS

HUNTED = [m.number for m in all_manifests() if bug_of(m.number)]


def broken_copy(number: str, target):
    """solutions/NN with the lesson's defect, every exercise solved: the student's stage once
    Exercises 1..N-1 are done and the bug is not."""
    stage = load_manifest(number).stage
    shutil.copytree(
        SOLUTIONS / stage, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    bug = bug_of(number)
    for relative in bug.files:
        path = target / relative
        path.write_text(bug.apply(relative, path.read_text()))
    return target


def region_code(text: str, relative: str, lesson: str) -> list[tuple[str, list[str]]]:
    """The lesson's own regions, with their code (an earlier lesson's are plain code here)."""
    lines = text.splitlines()
    return [
        (r.exercise, lines[r.first_line + 1 : r.last_line])
        for r in find_regions(text, relative)
        if r.lesson == lesson
    ]


def test_a_hunk_must_match_exactly_one_place():
    patch = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n"
    hunks = parse_patch(patch)["x.py"]
    assert apply_hunks("a = 1\nb = 2\nc = 4\n", hunks, "x.py") == "a = 1\nb = 3\nc = 4\n"
    for text in ("a = 1\nb = 5\n", "a = 1\nb = 2\na = 1\nb = 2\n"):
        with pytest.raises(BugError, match="not exactly one"):
            apply_hunks(text, hunks, "x.py")


@pytest.mark.parametrize("number", HUNTED)
def test_the_bug_hunt_is_the_last_exercise_with_hints_in_three_levels(number):
    lesson = load_manifest(number)
    bug = bug_of(number)
    assert lesson.ids[-1] == bug.exercise, "a bug hunt comes after the exercises it builds on"
    exercise = lesson.exercise(bug.exercise)
    assert set(exercise.files) == bug.files, "files = the files the patch changes"
    assert len(exercise.hints) >= 3, "tool, then where to look, then the fix"


@pytest.mark.parametrize("number", HUNTED)
def test_the_patch_applies_and_leaves_every_solution_region_alone(number):
    stage = load_manifest(number).stage
    bug = bug_of(number)
    for relative, hunks in bug.hunks.items():
        marked = [t for h in hunks for _, t in h.lines if BEGIN in t or END in t or HINT.match(t)]
        assert not marked, f"{relative}: the patch must not touch a marker or hint line: {marked}"
        text = (SOLUTIONS / stage / relative).read_text()
        broken = bug.apply(relative, text)
        assert broken != text, f"{relative}: the patch changes nothing"
        assert region_code(broken, relative, number) == region_code(text, relative, number), (
            f"{relative}: the patch changes one of the lesson's regions"
        )


@pytest.mark.parametrize("number", HUNTED)
def test_the_starter_holds_the_defect(number):
    stage = load_manifest(number).stage
    bug = bug_of(number)
    readme = f"lessons/{stage}/README.md"
    for relative in bug.files:
        text = (SOLUTIONS / stage / relative).read_text()
        clean = make_starter(text, relative, readme, number)
        assert (LESSONS / stage / relative).read_text() == make_starter(
            bug.apply(relative, text), relative, readme, number
        )
        assert (LESSONS / stage / relative).read_text() != clean


@pytest.mark.slow
@pytest.mark.parametrize("number", HUNTED)
def test_the_broken_copy_fails_its_bug_hunt_checks(number, grader, tmp_path):
    bug = bug_of(number)
    copy = broken_copy(number, tmp_path / load_manifest(number).stage)
    run = grader(number, copy, tmp_path / "report.json", "--only", bug.exercise)
    assert run.report is not None, run.output
    results = run.report["results"]
    assert results and {r["exercise"] for r in results} == {bug.exercise}
    not_failed = [f"{r['check']}: {r['status']}" for r in results if r["status"] != "FAIL"]
    assert not not_failed, "the defect must fail every check of its hunt:\n" + "\n".join(not_failed)
    print(*(f"{r['check']}: {r['summary']}" for r in results), sep="\n")
