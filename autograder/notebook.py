"""The glue a graded notebook cell calls: grade the files the notebook wrote, then assert.

The app under test never runs inside the Jupyter kernel: ``python -m autograder NN FOLDER``
runs as a subprocess with a hard time limit, once per version of the files (the report is
reused by every later test cell), and its lines are printed to stdout, because anything a
graded cell writes to stderr makes nbgrader score it 0.

    report = grade_folder("01", "app")
    assert_check_passed(report, "1.2", "chat_message_is_broadcast")
    assert_exercise_passed(report, "1.2")
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .harness import stop_process_group
from .paths import folder_digest
from .report import PASS, Report, Result

# The whole grading run of one stage; nbgrader_config.py gives a cell more (Execute.timeout).
GRADE_TIME_LIMIT = 150.0
REPORT_NAME = "autograder-report.json"  # written next to the notebook for the student to read
OUTPUT_TAIL_LINES = 30

_reports: dict[tuple[str, str, str], NotebookReport] = {}


@dataclass
class NotebookReport:
    """One grading run: the grader's Report, what the run printed, or why there is no report."""

    lesson: str
    folder: str
    report: Report | None = None
    output: str = ""
    problem: str = ""  # why there is no report (time limit, crash), for the student

    @property
    def score(self) -> int:
        return self.report.score if self.report else 0

    @property
    def max_score(self) -> int:
        return self.report.max_score if self.report else 0

    def results_for(self, exercise: str) -> list[Result]:
        return self.report.results_for(exercise) if self.report else []


def grade_folder(lesson: str, folder: str | Path = "app") -> NotebookReport:
    """Grade ``folder`` (relative to the notebook) once per version of its files."""
    path = Path(folder).resolve()
    if not path.is_dir():
        report = NotebookReport(lesson, str(path))
        report.problem = (
            f"There is no folder {folder!r} next to this notebook. "
            "Run the %%writefile cells above first (Run > Run All Cells)."
        )
        print(report.problem, flush=True)
        return report
    key = (lesson, str(path), folder_digest(path))
    if key in _reports:
        report = _reports[key]
        print(f"Using the grading run above: {_score_line(report)}", flush=True)
        return report
    report = _run_grader(lesson, path)
    _reports[key] = report
    return report


def _score_line(report: NotebookReport) -> str:
    if report.problem:
        return report.problem.splitlines()[0]
    return f"score {report.score}/{report.max_score}."


def _run_grader(lesson: str, folder: Path) -> NotebookReport:
    report = NotebookReport(lesson, str(folder))
    json_path = Path.cwd() / REPORT_NAME
    json_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "autograder", lesson, str(folder), "--json", str(json_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the student reads both; the cell's stderr stays clean
        env=env,
        start_new_session=True,
    )
    report.output, timed_out = _relay_output(process, time.monotonic() + GRADE_TIME_LIMIT)
    if timed_out:
        report.problem = (
            f"The grader did not finish within {GRADE_TIME_LIMIT:.0f} s and was stopped. "
            "Something in your app keeps it busy (an endless loop, a long sleep, a blocking "
            "call); run it yourself (make run) and try each feature."
        )
    elif json_path.is_file():
        report.report = Report.read_json(json_path)
    else:
        report.problem = (
            f"The grader stopped (exit code {process.returncode}) without a report; "
            "its output is above."
        )
    if report.problem:
        print(report.problem, flush=True)
    return report


def _relay_output(process: subprocess.Popen, deadline: float) -> tuple[str, bool]:
    """Print the grader's lines as they come; stop it at the deadline. Returns (output, late)."""
    chunks: list[str] = []
    timed_out = False
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            if time.monotonic() > deadline:
                timed_out = True
                break
            ready = selector.select(timeout=0.2)
            data = os.read(process.stdout.fileno(), 65536) if ready else b""
            if data:
                text = data.decode(errors="replace")
                chunks.append(text)
                sys.stdout.write(text)
                sys.stdout.flush()
                continue
            if ready or process.poll() is not None:  # end of output, or the grader is gone
                break
    _stop(process)  # nothing the grader started may outlive it
    process.stdout.close()
    return "".join(chunks), timed_out


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM lets the grader stop its own processes; SIGKILL the group if it will not go."""
    stop_process_group(process)


# -- assertions the graded cells make ---------------------------------------------------


def _no_report(report: NotebookReport) -> str:
    tail = "\n".join(report.output.rstrip().splitlines()[-OUTPUT_TAIL_LINES:])
    return f"{report.problem}\n\nThe grader's last output:\n{tail}" if tail else report.problem


def _describe(result: Result) -> str:
    lines = [f"Exercise {result.exercise}: {result.title} — {result.status}"]
    for label in ("summary", "sent", "expected", "received", "hint"):
        value = getattr(result, label)
        if value not in (None, ""):
            name = "what went wrong" if label == "summary" else label
            text = value if isinstance(value, str) else json.dumps(value, default=repr)
            lines.append(f"  {name + ':':<17}{text}")
    return "\n".join(lines)


def assert_check_passed(report: NotebookReport, exercise: str, check: str) -> None:
    """Fail with what was sent, expected and received unless the named check passed."""
    if report.problem:
        raise AssertionError(_no_report(report))
    matches = [r for r in report.results_for(exercise) if r.check == check]
    if not matches:
        raise AssertionError(
            f"The grader ran no check {check!r} for Exercise {exercise} "
            f"(lesson {report.lesson}); ask your instructor."
        )
    if matches[0].status != PASS:
        raise AssertionError("\n" + _describe(matches[0]))


def assert_exercise_passed(report: NotebookReport, exercise: str) -> None:
    """Fail unless every check of the exercise passed."""
    if report.problem:
        raise AssertionError(_no_report(report))
    results = report.results_for(exercise)
    if not results:
        raise AssertionError(
            f"The grader ran no check for Exercise {exercise}; ask your instructor."
        )
    failed = [r for r in results if r.status != PASS]
    if failed:
        raise AssertionError("\n" + "\n\n".join(_describe(r) for r in failed))
