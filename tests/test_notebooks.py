"""The source notebooks match solutions/, carry valid nbgrader metadata, and release cleanly.

No nbgrader command runs here (tests/test_nbgrader_pipeline.py does that); the grading glue
in autograder/verdict.py is exercised against a real grader subprocess.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from autograder.authoring import make_notebooks
from autograder.authoring.bugs import bug_of
from autograder.authoring.nbgrader_preprocessors import ClearSolutionsInWrittenFiles
from autograder.authoring.regions import find_regions, only_own_markers
from autograder.checks import load_checks
from autograder.manifest import all_manifests
from autograder.paths import LESSONS, NOTEBOOKS, SOLUTIONS, source_files
from autograder.workbook import writefile_body, writefile_target

SOURCE_NOTEBOOKS = sorted((NOTEBOOKS / "source").glob("*/*.ipynb"))
EXERCISE_IN_TEST = re.compile(r'"autograder\.verdict", "\d+", "\w+", "(\d+\.\d+)"')


def stage_of(path: Path) -> str:
    return path.parent.name


@pytest.fixture(params=SOURCE_NOTEBOOKS, ids=[stage_of(p) for p in SOURCE_NOTEBOOKS])
def source_notebook(request) -> tuple[str, nbformat.NotebookNode]:
    return stage_of(request.param), nbformat.read(request.param, as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def written_files(nb) -> dict[str, str]:
    files = {}
    for cell in nb.cells:
        target = writefile_target(cell.source) if cell.cell_type == "code" else None
        if target is not None:
            assert target not in files, f"{target} is written twice"
            files[target] = writefile_body(cell.source)
    return files


def test_every_solution_stage_has_a_source_notebook():
    stages = {m.stage for m in all_manifests() if m.notebook}
    assert stages, "no manifest has a [notebook] table"
    assert stages == {stage_of(p) for p in SOURCE_NOTEBOOKS}


def test_source_notebook_is_what_the_generator_makes(source_notebook):
    stage, _ = source_notebook
    committed = make_notebooks.notebook_path(stage).read_text()
    assert committed == make_notebooks.render(stage), (
        f"notebooks/source/{stage} is stale: run `make notebooks`"
    )


def test_writefile_cells_are_the_solution_files_exactly(source_notebook):
    stage, nb = source_notebook
    files = written_files(nb)
    expected = {
        f"{make_notebooks.APP_FOLDER}/{rel.as_posix()}": only_own_markers(
            (SOLUTIONS / stage / rel).read_text(), str(rel), stage[:2]
        )
        for rel in source_files(SOLUTIONS / stage)
    }
    assert sorted(files) == sorted(expected), "the notebook must write every file, and only those"
    for target, text in expected.items():
        assert files[target] == text, f"{target} differs from solutions/{stage}"


def test_every_exercise_has_a_graded_test_cell(source_notebook):
    stage, nb = source_notebook
    in_solutions = {
        region.exercise
        for rel in source_files(SOLUTIONS / stage)
        for region in find_regions((SOLUTIONS / stage / rel).read_text(), str(rel))
        if region.lesson == stage[:2]
    }
    tested = {
        exercise
        for cell in nb.cells
        if nbgrader_meta(cell).get("grade") and cell.cell_type == "code"
        for exercise in EXERCISE_IN_TEST.findall(cell.source)
    }
    assert in_solutions, f"solutions/{stage} has no exercise"
    assert in_solutions <= tested, f"no graded test cell for {sorted(in_solutions - tested)}"
    checked = {c.exercise for c in load_checks(stage[:2]).checks}
    assert tested <= checked, (
        f"test cells name exercises the grader has no check for: {tested - checked}"
    )


def test_nbgrader_metadata_is_valid(source_notebook):
    stage, nb = source_notebook
    MetadataValidator().validate_nb(nb)
    grade_ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), "grade_ids must be unique"
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade")]
    assert all(nbgrader_meta(c).get("points", 0) > 0 for c in graded)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        target = writefile_target(cell.source) if cell.cell_type == "code" else None
        if cell.cell_type == "code":
            assert meta, f"code cell {cell.id} is not an nbgrader cell"
            assert meta["solution"] != meta["locked"], f"{cell.id}: editable xor locked"
        if target is not None:
            has_regions = bool(find_regions(writefile_body(cell.source), target))
            bug = bug_of(stage[:2])  # the file of a bug hunt's defect is editable too
            hunted = bug is not None and target.removeprefix("app/") in bug.files
            assert meta["solution"] == (has_regions or hunted), (
                f"{target}: solution cell iff it has regions or a bug hunt's defect"
            )
        if meta.get("grade") and cell.cell_type == "code":
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{cell.id} has no hidden tests"
    written = [
        c for c in nb.cells if c.cell_type == "markdown" and nbgrader_meta(c).get("solution")
    ]
    assert written and all(nbgrader_meta(c)["grade"] for c in written), "a manually graded answer"


def released(stage: str, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    clear = ClearSolutionsInWrittenFiles()
    resources = {"nbgrader": {"assignment": stage}}
    return clear.preprocess(nb, resources)[0]


def test_released_files_are_the_lesson_starters(source_notebook):
    stage, nb = source_notebook
    for target, text in written_files(released(stage, nb)).items():
        relative = target.removeprefix(f"{make_notebooks.APP_FOLDER}/")
        assert text == (LESSONS / stage / relative).read_text(), f"released {target}"
        assert "BEGIN SOLUTION" not in text


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_released_javascript_is_valid(source_notebook, tmp_path):
    stage, nb = source_notebook
    scripts = {t: s for t, s in written_files(released(stage, nb)).items() if t.endswith(".js")}
    for target, text in scripts.items():
        module = tmp_path / (Path(target).stem + ".mjs")  # the course's JS is ES modules
        module.write_text(text)
        check = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True)
        assert check.returncode == 0, f"released {target} is not valid JavaScript:\n{check.stderr}"


# -- the verdict graded cells run ---------------------------------------------------------


def write_stage(folder: Path, stage: str, source_root: Path) -> None:
    for relative in source_files(source_root / stage):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source_root / stage / relative, folder / relative)


def verdict(cwd: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess:
    """The command a graded cell runs, from the notebook's folder."""
    return subprocess.run(
        [sys.executable, "-I", "-m", "autograder.verdict", *arguments],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def broken_1_3(tmp_path) -> Path:
    """Lesson 01 solved, except that server_time acknowledges with a word."""
    write_stage(tmp_path / "app", "01_basics", SOLUTIONS)
    app_py = tmp_path / "app" / "app.py"
    solved = 'return {"server_time": time.time()}'
    assert solved in app_py.read_text()
    app_py.write_text(app_py.read_text().replace(solved, 'return {"server_time": "soon"}'))
    return tmp_path


def test_a_visible_check_shows_its_own_details_and_fails_the_cell(broken_1_3):
    done = verdict(broken_1_3, "01", "app", "1.3", "server_time_is_acknowledged")
    assert done.returncode == 1 and done.stderr == ""
    for label in ("Exercise 1.3", "sent:", "expected:", "received:", "soon", "hint:"):
        assert label in done.stdout
    assert "connect_announces_user_count" not in done.stdout, "only this cell's check runs"
    assert "(1 check)" in done.stdout
    passing = verdict(broken_1_3, "01", "app", "1.4", "send_echoes_to_sender_only")
    assert passing.returncode == 0, passing.stdout


def test_hidden_checks_show_counts_unless_the_instructor_allows_details(broken_1_3):
    hidden = verdict(broken_1_3, "01", "app", "1.3", "server_time_is_acknowledged", "--hidden")
    assert hidden.returncode == 1
    assert "0 of 1 passed" in hidden.stdout
    assert "server_time_is_acknowledged" not in hidden.stdout and "soon" not in hidden.stdout
    shown = verdict(
        broken_1_3,
        "01",
        "app",
        "1.3",
        "server_time_is_acknowledged",
        "--hidden",
        AUTOGRADER_HIDDEN_DETAILS="1",
    )
    assert "soon" in shown.stdout


def test_settings_a_kernel_sets_do_not_reach_the_grader(broken_1_3):
    done = verdict(
        broken_1_3, "01", "app", "1.4", "send_echoes_to_sender_only", AUTOGRADER_CONTAIN="0"
    )
    assert done.returncode == 0
    assert "Containment is off" not in done.stdout


def test_a_hanging_app_is_stopped_and_nothing_is_left_running(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("import time\nwhile True:\n    time.sleep(1)\n")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    done = verdict(
        tmp_path,
        "01",
        "app",
        "1.1",
        "connect_announces_user_count",
        AUTOGRADER_VERDICT_TIME_LIMIT="3",
    )
    shown = f"exit code {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 1 and done.stderr == "", shown
    assert "did not finish within 3 s" in done.stdout, shown
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert psutil.wait_procs(left, timeout=5)[1] == [], f"left running: {left}"


def test_a_missing_folder_is_explained(tmp_path):
    done = verdict(tmp_path, "01", "app", "1.1", "connect_announces_user_count")
    assert done.returncode == 2
    assert "Run the %%writefile cells" in done.stdout
