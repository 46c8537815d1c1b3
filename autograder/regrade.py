"""`make regrade A=02_namespaces`: grade every autograded submission again, outside any kernel,
and list each test cell whose nbgrader score differs (tamper detection). Run it before export.

nbgrader scores a test cell by running it in the student's kernel, where an earlier cell of
the student's can change anything (the assertion helpers, the subprocess module, the files the
grader reads). This command trusts none of that: for each submission it takes the files the
notebook's %%writefile cells write, as the student submitted them, writes them into a fresh
folder, grades that with `python -m autograder` (contained), and compares, cell by cell, with
the scores in the gradebook.

python -m autograder.regrade ASSIGNMENT [--course notebooks] [--student ID ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from .paths import NOTEBOOKS
from .report import PASS, Report
from .workbook import written_files

APP_FOLDER = "app"
EXERCISE_OF_CELL = "test_"  # a test cell's grade_id is test_<lesson>_<exercise>
REGRADE_TIME_LIMIT = 600.0


@dataclass
class Difference:
    student: str
    notebook: str
    cell: str
    nbgrader_score: float
    regrade_score: float
    why: str


def test_cells(source: nbformat.NotebookNode) -> dict[str, tuple[str, float]]:
    """grade_id -> (exercise, points) of each graded test cell, from the instructor's notebook."""
    cells = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id", "")
        if cell.cell_type == "code" and meta.get("grade") and grade_id.startswith(EXERCISE_OF_CELL):
            exercise = grade_id.removeprefix(EXERCISE_OF_CELL).replace("_", ".")
            cells[grade_id] = (exercise, float(meta.get("points", 0)))
    return cells


def regrade_files(lesson: str, files: dict[str, str]) -> Report | None:
    with tempfile.TemporaryDirectory(prefix="autograder-regrade-") as folder:
        app = Path(folder) / APP_FOLDER
        for relative, text in files.items():
            (app / relative).parent.mkdir(parents=True, exist_ok=True)
            (app / relative).write_text(text)
        report_path = Path(folder) / "report.json"
        command = [sys.executable, "-I", "-m", "autograder", lesson, str(app)]
        try:
            subprocess.run(
                [*command, "--json", str(report_path)],
                capture_output=True,
                timeout=REGRADE_TIME_LIMIT,
            )
        except subprocess.TimeoutExpired:
            return None
        return Report.read_json(report_path) if report_path.is_file() else None


def nbgrader_scores(course: Path, assignment: str, notebook: str, student: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submitted = gradebook.find_submission_notebook(notebook, assignment, student)
        return {grade.name: float(grade.auto_score or 0) for grade in submitted.grades}


def regrade(course: Path, assignment: str, students: list[str] | None = None) -> list[Difference]:
    differences = []
    lesson = assignment[:2]
    for source_path in sorted((course / "source" / assignment).glob("*.ipynb")):
        cells = test_cells(nbformat.read(source_path, as_version=4))
        for submitted in sorted((course / "submitted").glob(f"*/{assignment}/{source_path.name}")):
            student = submitted.parents[1].name
            if students and student not in students:
                continue
            files = written_files(nbformat.read(submitted, as_version=4), APP_FOLDER)
            report = regrade_files(lesson, files)
            scores = nbgrader_scores(course, assignment, source_path.stem, student)
            for grade_id, (exercise, points) in cells.items():
                results = report.results_for(exercise) if report else []
                passed = bool(results) and all(r.status == PASS for r in results)
                expected = points if passed else 0.0
                if scores.get(grade_id, 0.0) != expected:
                    why = (
                        "the regrade could not finish"
                        if report is None
                        else (
                            "passes on regrade"
                            if passed
                            else "fails on regrade: "
                            + "; ".join(
                                r.summary.splitlines()[0] for r in results if r.status != PASS
                            )
                        )
                    )
                    differences.append(
                        Difference(
                            student,
                            source_path.stem,
                            grade_id,
                            scores.get(grade_id, 0.0),
                            expected,
                            why,
                        )
                    )
            print(f"{student}: regraded", flush=True)
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.regrade",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("assignment", help="e.g. 02_namespaces")
    parser.add_argument("--course", type=Path, default=NOTEBOOKS, help="the nbgrader course folder")
    parser.add_argument("--student", action="append", help="only these students")
    parser.add_argument("--json", type=Path, help="also write the differences as JSON")
    args = parser.parse_args(argv)
    if not (args.course / "gradebook.db").is_file():
        print(f"No gradebook.db in {args.course}: run nbgrader autograde first.", file=sys.stderr)
        return 2
    differences = regrade(args.course.resolve(), args.assignment, args.student)
    if args.json:
        args.json.write_text(json.dumps([asdict(d) for d in differences], indent=2))
    if not differences:
        print("Every autograded score matches the regrade.")
        return 0
    print(f"{len(differences)} test cell(s) scored differently by nbgrader and by the regrade:")
    for d in differences:
        print(
            f"  {d.student} {d.notebook} {d.cell}: nbgrader {d.nbgrader_score:g}, "
            f"regrade {d.regrade_score:g} ({d.why})"
        )
    print("Look at these submissions before you export: the notebook may have been tampered with.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
