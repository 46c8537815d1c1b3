"""Generate notebooks/source/NN/NN.ipynb: `python -m autograder.authoring.make_notebooks`.

A lesson's workbook is built from two things, so nothing in it can drift:
- course/NN_name.toml, the manifest: its title, the notebook's introduction and written
  question, and one graded test cell per exercise, worth the points of its checks, with the
  first check visible and the rest hidden from students;
- solutions/NN_name/: every file, written by one ``%%writefile`` cell each (files with this
  lesson's solution regions become nbgrader solution cells, the others are locked).
A bug hunt's defect is not in the source notebook: generate_assignment puts it into the
release (nbgrader_preprocessors.py), and its exercise gets a hand-graded "the cause" answer.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..manifest import Exercise, LessonManifest, all_manifests, load_manifest
from ..paths import COURSE_ROOT, NOTEBOOKS, SOLUTIONS, source_files
from .bugs import bug_of
from .regions import find_regions, only_own_markers

SOURCE = NOTEBOOKS / "source"
APP_FOLDER = "app"  # where the notebook writes the app, next to the notebook
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class SpecError(ValueError):
    """A spec or a solution file the notebook cannot be built from."""


def notebook_path(stage: str) -> Path:
    return SOURCE / stage / f"{stage}.ipynb"


def _nbgrader(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _cell_id(grade_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", grade_id)[:64]


def _code(source: str, grade_id: str, **nbgrader) -> nbformat.NotebookNode:
    meta = _nbgrader(grade_id, **nbgrader)
    if nbgrader.get("locked") or nbgrader.get("grade"):
        meta.update({"deletable": False, "editable": False})
    cell = new_code_cell(source, metadata=meta)
    cell.id = _cell_id(grade_id)
    return cell


def _markdown(source: str, cell_id: str, **nbgrader) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source.strip(), metadata=_nbgrader(cell_id, **nbgrader))
    if not nbgrader:
        del cell.metadata["nbgrader"]
    cell.id = _cell_id(cell_id)
    return cell


def _grade_id(relative: Path) -> str:
    return "write_" + re.sub(r"[^A-Za-z0-9]+", "_", str(relative)).strip("_")


def file_cells(
    stage: str, relative: Path, text: str, hunted: bool = False
) -> tuple[list, set[str]]:
    """The markdown note and the %%writefile cell for one solution file (editable when it has
    regions, or when it is ``hunted``: the lesson's bug hunt puts its defect there)."""
    if text and not text.endswith("\n"):
        raise SpecError(f"solutions/{stage}/{relative}: end the file with a newline")
    text = only_own_markers(text, str(relative), stage[:2])
    regions = find_regions(text, str(relative))
    target = f"{APP_FOLDER}/{relative.as_posix()}"
    source = f"%%writefile {target}\n{text}"
    grade_id = _grade_id(relative)
    if regions:
        todo = "\n".join(f"- **Exercise {r.exercise}**: {r.hint}" for r in regions)
        note = (
            f"### `{target}`\n\nYour exercises in this file (the lesson text, "
            f"`lessons/{stage}/README.md`, has a section for each):\n\n{todo}"
        )
        cell = _code(source, grade_id, solution=True)
    elif hunted:
        note = f"### `{target}`\n\nGiven, and yours to change if you find a reason to."
        cell = _code(source, grade_id, solution=True)
    else:
        note = f"### `{target}`\n\nGiven: run this cell as it is."
        cell = _code(source, grade_id, locked=True)
    return [_markdown(note, f"about_{grade_id}"), cell], {r.exercise for r in regions}


def _verdict_call(exercise: Exercise, checks: list[str], hidden: bool) -> list[str]:
    """Lines that run the verdict process and fail the cell unless the checks passed."""
    if hidden:
        names = ["HIDDEN = [", *(f'    "{name}",' for name in checks), "]"]
        arguments, what = '"--hidden", *HIDDEN', "the hidden checks"
    else:
        names, arguments, what = [], ", ".join(f'"{name}"' for name in checks), "the check above"
    return [
        *names,
        f"with subprocess.Popen([*VERDICT, {arguments}], **PIPED) as graded:",
        "    for line in graded.stdout:",
        '        print(line, end="")',
        f'assert graded.returncode == 0, "Exercise {exercise.id} does not pass {what} yet."',
    ]


def test_cell(lesson: LessonManifest, exercise: Exercise) -> nbformat.NotebookNode:
    visible, *hidden = exercise.check_names
    lines = [
        f"# Exercise {exercise.id}: {exercise.title} ({exercise.points} points)",
        "# The grader runs in a process of its own, on the files above; this cell shows what",
        "# it printed and fails unless the check passed.",
        "import subprocess",
        "import sys",
        "",
        f'VERDICT = [sys.executable, "-I", "-m", "autograder.verdict", "{lesson.number}", '
        f'"{APP_FOLDER}", "{exercise.id}"]',
        'PIPED = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}',
        *_verdict_call(exercise, [visible], hidden=False),
        "### BEGIN HIDDEN TESTS",
        *(_verdict_call(exercise, hidden, hidden=True) if hidden else []),
        "### END HIDDEN TESTS",
    ]
    grade_id = "test_" + exercise.id.replace(".", "_")
    return _code("\n".join(lines), grade_id, grade=True, locked=True, points=exercise.points)


def cause_cells(exercise: Exercise) -> list[nbformat.NotebookNode]:
    """The hand-graded sentence a bug hunt asks for, next to its test cell."""
    prompt = (
        f"### Exercise {exercise.id}: the cause, in one sentence (graded by your instructor)\n\n"
        "Once the cell above passes: what was wrong in the code you were given, and why did it "
        "give the symptom the lesson text describes? One sentence, naming the file and setting "
        "or line you changed."
    )
    grade_id = "cause_" + exercise.id.replace(".", "_")
    return [
        _markdown(prompt, f"about_{grade_id}"),
        _markdown(
            exercise.cause["answer"],
            grade_id,
            solution=True,
            grade=True,
            points=int(exercise.cause.get("points", 1)),
        ),
    ]


def build_notebook(stage: str) -> nbformat.NotebookNode:
    lesson = load_manifest(stage[:2])
    spec = lesson.notebook
    solution_dir = SOLUTIONS / stage
    files = source_files(solution_dir)

    folders = sorted({APP_FOLDER, *(f"{APP_FOLDER}/{p.parent.as_posix()}" for p in files)})
    folders = [f for f in folders if not f.endswith("/.")]
    setup = (
        "# A failing test shows the grader's message, not the test cell's code.\n"
        "%xmode Minimal\n"
        "# Make the folders the cells below write into.\n"
        "from pathlib import Path\n\n"
        "FOLDERS = [\n" + "".join(f'    "{folder}",\n' for folder in folders) + "]\n"
        "for folder in FOLDERS:\n"
        "    Path(folder).mkdir(parents=True, exist_ok=True)"
    )
    cells = [
        _markdown(f"# {lesson.title}\n\n{spec['intro'].strip()}", "intro"),
        _code(setup, "setup", locked=True),
    ]
    exercises_in_files: set[str] = set()
    bug = bug_of(lesson.number)
    for relative in files:
        try:
            text = (solution_dir / relative).read_text()
        except UnicodeDecodeError as error:
            raise SpecError(f"solutions/{stage}/{relative}: not a text file") from error
        hunted = bug is not None and relative.as_posix() in bug.files
        new_cells, exercises = file_cells(stage, relative, text, hunted)
        cells.extend(new_cells)
        exercises_in_files |= exercises

    unlisted = sorted(exercises_in_files - set(lesson.ids))
    if unlisted:
        raise SpecError(f"{stage}: exercise(s) {', '.join(unlisted)} not in {lesson.path.name}")
    cells.append(
        _markdown(
            "## Check your work\n\n"
            "Each cell below grades one exercise: it starts your app from the files above, in a "
            "process of its own, and runs that exercise's first check (up to a minute for the "
            "later lessons). Your instructor's grading also runs hidden checks; their results "
            "reach you in feedback.",
            "about_tests",
        )
    )
    for exercise in lesson.exercises:
        cells.append(test_cell(lesson, exercise))
        if exercise.cause:
            cells.extend(cause_cells(exercise))

    question = spec["question"]
    cells.append(_markdown(question["prompt"], "question"))
    cells.append(
        _markdown(
            question["answer"],
            "written_answer",
            solution=True,
            grade=True,
            points=question["points"],
        )
    )
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    nbformat.validate(notebook)
    return notebook


def render(stage: str) -> str:
    return nbformat.writes(build_notebook(stage)) + "\n"


def stages_with_notebooks() -> list[str]:
    return [m.stage for m in all_manifests() if m.notebook and (SOLUTIONS / m.stage).is_dir()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 on any")
    parser.add_argument("stages", nargs="*", help="e.g. 01_basics (default: every lesson)")
    args = parser.parse_args(argv)
    stale = []
    for stage in args.stages or stages_with_notebooks():
        path = notebook_path(stage)
        text = render(stage)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path.relative_to(COURSE_ROOT)))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"{path.relative_to(COURSE_ROOT)}: written")
    for path in stale:
        print(f"stale: {path} (run `make notebooks`)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
