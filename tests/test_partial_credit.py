"""Fair partial credit: a student who solved exercises 1..k of a lesson, and left the rest as the
starter's stubs, gets every check of exercises 1..k (graded with --only 1..k).

The copies come from solutions/ through the same stub generation as lessons/
(autograder.authoring.partial). The manifest's order follows depends_on, so each prefix holds
every exercise its exercises build on.
"""

from __future__ import annotations

import pytest

from autograder.authoring.partial import write_partial
from autograder.manifest import load_manifest

from .conftest import gradable_lessons

# k = every exercise is the solution itself, graded in full by tests/test_grading.py.
CASES = [
    pytest.param(number, k, id=f"{number}-first-{k}")
    for number in gradable_lessons()
    for k in range(1, len(load_manifest(number).ids))
]


def test_the_manifest_order_follows_depends_on():
    for number in gradable_lessons():
        ids = load_manifest(number).ids
        for position, exercise in enumerate(ids):
            needed = load_manifest(number).needed_for(exercise)
            assert set(needed) <= set(ids[:position]), (number, exercise, needed)


@pytest.mark.slow
@pytest.mark.parametrize(("number", "k"), CASES)
def test_solved_exercises_keep_their_points_while_later_ones_are_stubs(number, k, grader, tmp_path):
    solved = load_manifest(number).ids[:k]
    copy = write_partial(number, set(solved), tmp_path / "stage")
    run = grader(number, copy, tmp_path / "report.json", "--only", ",".join(solved))
    assert run.report is not None, run.output
    lost = [
        f"{r['exercise']} {r['check']}: {r['status']}: {r['summary']}"
        for r in run.report["results"]
        if r["status"] != "PASS"
    ]
    assert not lost, f"with {solved} solved and the rest stubbed:\n" + "\n".join(lost)
    assert {r["exercise"] for r in run.report["results"]} == set(solved)
