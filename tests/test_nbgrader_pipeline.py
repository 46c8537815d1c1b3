"""nbgrader's real command-line tools on a copy of notebooks/, for every lesson with a notebook.

generate_assignment -> a submission made from the source notebook (solved) and the untouched
release notebook -> autograde -> generate_feedback -> export. Scores come from the gradebook
and the exported CSV, never from `nbgrader validate` (which exits 0 even when tests fail).
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.authoring.make_notebooks import APP_FOLDER
from autograder.paths import LESSONS, NOTEBOOKS, source_files
from autograder.workbook import writefile_body, writefile_target

# The course fixture autogrades two whole submissions (AUTOGRADE_TIMEOUT) before the first test.
pytestmark = [pytest.mark.nbgrader, pytest.mark.timeout(900)]

STAGES = sorted(p.parent.name for p in (NOTEBOOKS / "source").glob("*/*.ipynb"))
AUTOGRADE_TIMEOUT = 420.0  # two submissions, each executing a whole grading run
SOLVED, UNTOUCHED = "solved", "untouched"


@pytest.fixture(scope="module", params=STAGES)
def course(request, tmp_path_factory, new_nbgrader_course):
    stage = request.param
    course = new_nbgrader_course(tmp_path_factory.mktemp(f"course-{stage}"), stage)
    for student, origin in (
        (SOLVED, course.notebook("source")),
        (UNTOUCHED, course.notebook("release")),
    ):
        course.submit(student, origin)
    course.nbgrader("autograde", stage, "--create", "--force", timeout=AUTOGRADE_TIMEOUT)
    course.nbgrader("generate_feedback", stage, "--force")
    course.nbgrader("export")
    print(f"\nnbgrader timings for {stage}: {course.seconds}")
    return course


def written_files(path: Path) -> dict[str, str]:
    nb = nbformat.read(path, as_version=4)
    return {
        target: writefile_body(cell.source)
        for cell in nb.cells
        if cell.cell_type == "code" and (target := writefile_target(cell.source))
    }


def grades(course, student: str) -> list:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(course.stage, course.stage, student)
        return [
            (g.name, g.cell.cell_type, g.auto_score, g.max_score, g.needs_manual_grade)
            for g in notebook.grades
        ]


def test_release_holds_only_the_notebook_with_starter_files(course):
    released = sorted(
        p.relative_to(course.root / "release")
        for p in (course.root / "release").rglob("*")
        if p.is_file()
    )
    assert released == [Path(course.stage, f"{course.stage}.ipynb")], "the instructor's app/ leaked"
    for target, text in written_files(course.notebook("release")).items():
        relative = target.removeprefix(f"{APP_FOLDER}/")
        assert text == (LESSONS / course.stage / relative).read_text(), target


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_released_javascript_is_valid(course, tmp_path):
    scripts = {
        t: s for t, s in written_files(course.notebook("release")).items() if t.endswith(".js")
    }
    for target, text in scripts.items():
        module = tmp_path / (Path(target).stem + ".mjs")
        module.write_text(text)
        check = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True)
        assert check.returncode == 0, f"released {target}:\n{check.stderr}"


def test_solved_submission_gets_full_marks_on_every_autograded_cell(course):
    tests = [g for g in grades(course, SOLVED) if g[1] == "code"]
    assert tests, "no autograded test cell"
    assert [(name, score) for name, _, score, top, _ in tests] == [
        (name, top) for name, _, _, top, _ in tests
    ]
    written = [g for g in grades(course, SOLVED) if g[1] == "markdown"]
    assert written and all(needs_manual for *_, needs_manual in written)


def test_untouched_release_scores_zero_on_every_exercise(course):
    tests = [g for g in grades(course, UNTOUCHED) if g[1] == "code"]
    assert tests and all(score == 0 for _, _, score, _, _ in tests), tests


def test_graded_files_are_the_ones_the_student_notebook_wrote(course):
    folder = course.root / "autograded" / UNTOUCHED / course.stage / APP_FOLDER
    for relative in source_files(LESSONS / course.stage):
        if relative.name != "README.md":
            assert (folder / relative).read_text() == (
                LESSONS / course.stage / relative
            ).read_text()


def test_test_cells_never_write_to_stderr(course):
    for student in (SOLVED, UNTOUCHED):
        nb = nbformat.read(course.notebook("autograded", student), as_version=4)
        for cell in nb.cells:
            streams = [o for o in cell.get("outputs", []) if o.output_type == "stream"]
            assert all(o.name == "stdout" for o in streams), (student, cell.id, streams)


def hidden_lines(source_notebook: Path) -> list[str]:
    """The lines only the hidden tests have (not those the visible part repeats)."""
    lines = []
    for cell in nbformat.read(source_notebook, as_version=4).cells:
        pattern = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
        visible = re.sub(pattern, "", cell.source, flags=re.S).splitlines()
        shown = {line.strip() for line in visible}
        for block in re.findall(pattern, cell.source, re.S):
            lines += [ln.strip() for ln in block.splitlines() if ln.strip() not in shown | {""}]
    return [line for line in lines if len(line) > 3]


def test_feedback_contains_no_hidden_test_code(course):
    secrets = hidden_lines(course.notebook("source"))
    assert secrets, "the source notebook has no hidden tests"
    for student in (SOLVED, UNTOUCHED):
        page = course.root / "feedback" / student / course.stage / f"{course.stage}.html"
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        assert "Score:" in text or "score" in text.lower()
        assert "HIDDEN TESTS" not in text
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"feedback for {student} shows hidden tests: {leaked}"


def test_export_has_every_students_grade(course):
    with open(course.root / "grades.csv", newline="") as exported:
        rows = {row["student_id"]: row for row in csv.DictReader(exported)}
    auto_points = sum(top for _, kind, _, top, _ in grades(course, SOLVED) if kind == "code")
    assert float(rows[SOLVED]["raw_score"]) == auto_points
    assert float(rows[UNTOUCHED]["raw_score"]) == 0
    assert float(rows[SOLVED]["max_score"]) > auto_points  # the written answer awaits a human


def test_honest_submissions_grade_without_warnings(course):
    """A warning from autograde means something: tampering, not hidden tests put back."""
    log = course.outputs["autograde"]
    warnings = [line for line in log.splitlines() if "WARNING" in line or "Warning" in line]
    assert not warnings, "\n".join(warnings)
