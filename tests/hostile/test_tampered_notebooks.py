"""Hostile lesson-01 submissions through nbgrader's real autograde, then the regrade command.

Each case either gets zero for the checks it targets, or `python -m autograder.regrade` flags
its cells; honest submissions are never flagged. Nothing a submission starts outlives the run,
and the gradebook changes only through nbgrader.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook

from autograder.containment import find_sandbox
from autograder.manifest import load_manifest
from autograder.paths import COURSE_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.nbgrader,
    pytest.mark.timeout(1800),  # the first test waits for nine submissions to be autograded
    pytest.mark.skipif(find_sandbox() is None, reason="bubblewrap cannot run here"),
]
STAGE = "01_basics"
MARKER = "tampered-notebook-marker"
AUTOGRADE_TIMEOUT = 900.0
HONEST = {"solved", "untouched", "half_of_1_1", "daemon_and_flood"}
SUBMITTED = "submitted beside the notebook"

# Code cells a student adds above the test cells of the untouched release.
KERNEL_TAMPERING = """
import subprocess

class Passing:
    returncode = 0
    stdout = iter(())
    def __init__(self, *args, **kwargs): pass
    def __enter__(self): return self
    def __exit__(self, *exc): return False

subprocess.Popen = Passing
"""
SWALLOWED_ASSERTIONS = """
get_ipython().set_custom_exc((AssertionError,), lambda *args, **kwargs: None)
"""
SHADOWED_GRADER = """
from pathlib import Path
Path("autograder").mkdir(exist_ok=True)
Path("autograder/__init__.py").write_text("")
Path("autograder/verdict.py").write_text("raise SystemExit(0)\\n")
"""
FORGED_REPORTS = """
import json, pathlib, tempfile
report = {"lesson": "01", "path": "app", "score": 13, "max_score": 13, "passed": True,
          "setup_error": "", "results": []}
for folder in (pathlib.Path("."), pathlib.Path(tempfile.gettempdir())):
    (folder / "autograder-report.json").write_text(json.dumps(report))
    (folder / "report.json").write_text(json.dumps(report))
"""


def with_cells_before_tests(release: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    first_test = next(i for i, c in enumerate(release.cells) if c.get("id", "").startswith("test_"))
    release.cells.insert(first_test, new_code_cell(source))
    return release


def with_app_code(notebook: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    """``code`` at the top of the %%writefile cell of app/app.py."""
    cell = next(c for c in notebook.cells if c.source.startswith("%%writefile app/app.py"))
    header, _, body = cell.source.partition("\n")
    cell.source = f"{header}\n{code}\n{body}"
    return notebook


def half_of_exercise_1_1(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Connect counts users; disconnect does not: the visible check passes, a hidden one fails."""
    cell = next(c for c in source.cells if c.source.startswith("%%writefile app/app.py"))
    solved = "    with connected_lock:\n        connected_sids.discard(request.sid)\n"
    assert solved in cell.source
    cell.source = cell.source.replace(solved, "    pass\n")
    return source


DAEMON = f"""
import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "3600", "{MARKER}"])
    os._exit(0)
"""
FLOOD = "import sys\nsys.stdout.write('x' * 20_000_000 + '\\n')\nsys.stdout.flush()\n"


def marked_processes() -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE and MARKER in " ".join(p.info["cmdline"] or [])
    ]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, new_nbgrader_course):
    course = new_nbgrader_course(tmp_path_factory.mktemp("hostile-course"), STAGE)

    def read(folder: str):
        return nbformat.read(course.notebook(folder), as_version=4)

    cases = {
        "solved": read("source"),
        "untouched": read("release"),
        "half_of_1_1": half_of_exercise_1_1(read("source")),
        "kernel_tampering": with_cells_before_tests(read("release"), KERNEL_TAMPERING),
        "swallowed_assertions": with_cells_before_tests(read("release"), SWALLOWED_ASSERTIONS),
        "shadowed_grader": with_cells_before_tests(read("release"), SHADOWED_GRADER),
        "forged_reports": with_cells_before_tests(read("release"), FORGED_REPORTS),
        "daemon_and_flood": with_app_code(read("source"), DAEMON + FLOOD),
    }
    scratch = tmp_path_factory.mktemp("hostile-notebooks")
    for student, notebook in cases.items():
        path = scratch / f"{student}.ipynb"
        nbformat.write(notebook, path)
        course.submit(student, path)
    # Files submitted next to the notebook: a grader package of one's own, a forged report.
    shadow = course.notebook("submitted", "shadowed_grader").parent / "autograder"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    (shadow / "verdict.py").write_text(f"raise SystemExit(0)  # {SUBMITTED}\n")
    forged = course.notebook("submitted", "forged_reports").parent / "autograder-report.json"
    forged.write_text(json.dumps({"score": 13, "passed": True, "note": SUBMITTED}))

    course.nbgrader("autograde", STAGE, "--create", "--force", timeout=AUTOGRADE_TIMEOUT)
    gradebook = course.root / "gradebook.db"
    fingerprint = hashlib.sha256(gradebook.read_bytes()).hexdigest()
    time.sleep(3)  # time enough for a survivor to act
    course.alive_after = marked_processes()
    course.gradebook_changed = hashlib.sha256(gradebook.read_bytes()).hexdigest() != fingerprint
    regrade = subprocess.run(
        [sys.executable, "-m", "autograder.regrade", STAGE, "--course", str(course.root)]
        + ["--json", str(course.root / "regrade.json")],
        cwd=COURSE_ROOT,
        capture_output=True,
        text=True,
        timeout=AUTOGRADE_TIMEOUT,
    )
    course.regrade = regrade
    course.flagged = {d["student"] for d in json.loads((course.root / "regrade.json").read_text())}
    yield course
    for process in marked_processes():
        process.kill()


def score(course, student: str) -> float:
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        submitted = gradebook.find_submission_notebook(STAGE, STAGE, student)
        return sum(g.auto_score or 0 for g in submitted.grades if g.cell.cell_type == "code")


def full_marks() -> float:
    return float(sum(e.points for e in load_manifest("01").exercises))


def test_honest_submissions_are_never_flagged(graded):
    assert score(graded, "solved") == full_marks()
    assert score(graded, "untouched") == 0
    assert not HONEST & graded.flagged, graded.regrade.stdout


@pytest.mark.parametrize(
    "student", ["kernel_tampering", "swallowed_assertions", "shadowed_grader", "forged_reports"]
)
def test_a_tampered_notebook_gets_zero_or_is_flagged(graded, student):
    assert score(graded, student) == 0 or student in graded.flagged, graded.regrade.stdout


def test_the_regrade_names_each_tampered_cell(graded):
    if graded.flagged:
        assert graded.regrade.returncode == 1
        assert "may have been tampered with" in graded.regrade.stdout
    else:
        assert graded.regrade.returncode == 0


def test_submitted_files_beside_the_notebook_are_not_copied(graded):
    """(The kernel cells write look-alikes at run time; those are not what was submitted.)"""
    for student in ("shadowed_grader", "forged_reports"):
        folder = graded.notebook("autograded", student).parent
        copied = [
            path
            for path in folder.rglob("*")
            if path.is_file() and SUBMITTED in path.read_text(errors="ignore")
        ]
        assert not copied, copied


def test_nothing_outlives_the_grading_and_the_gradebook_is_left_alone(graded):
    assert graded.alive_after == []
    assert not graded.gradebook_changed


def test_a_flood_of_output_does_not_bloat_the_graded_notebook(graded):
    """The app prints 20 MB and starts a daemon, and otherwise works: full marks, a small
    notebook, and the daemon gone."""
    size = graded.notebook("autograded", "daemon_and_flood").stat().st_size
    assert size < 1024 * 1024, f"the autograded notebook is {size:,} bytes"
    assert score(graded, "daemon_and_flood") == full_marks()


def test_hidden_checks_stay_hidden_from_the_visible_cell(graded):
    """A visible check that passes, a hidden one that fails: the cell says how many hidden
    checks passed, never which or why (AUTOGRADER_HIDDEN_DETAILS is off)."""
    notebook = nbformat.read(graded.notebook("autograded", "half_of_1_1"), as_version=4)
    cell = next(c for c in notebook.cells if c.get("id") == "test_1_1")
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert "connect_announces_user_count" in text or "Exercise 1.1" in text
    assert "0 of 1 passed" in text
    assert "disconnect_announces_user_count" not in text and "lower user_count" not in text
    assert score(graded, "half_of_1_1") == full_marks() - 4  # exercise 1.1 is worth 4
