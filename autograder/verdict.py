"""What a graded notebook cell runs: `python -I -m autograder.verdict NN FOLDER N.M CHECK ...`.

The verdict never comes from the Jupyter kernel. The cell starts this module as a process of
its own, in isolated mode (-I: nothing from the notebook's folder or the kernel's sys.path is
importable), and this process runs the grader (`python -m autograder`) on the files the
notebook wrote, with a hard time limit, reads its report from a folder only it knows, and
exits 0 only when every named check passed. No module, cache or object in the kernel decides
pass or fail; what a kernel can still fake, `python -m autograder.regrade` finds.

- Without --hidden it prints what the grader printed about these checks (bounded in size).
- With --hidden (the instructor's hidden tests) it prints how many passed, and the checks'
  names and details only when the instructor turned that on (AUTOGRADER_HIDDEN_DETAILS=1 in
  nbgrader_config.py): students see hidden checks only in feedback, and only if allowed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import settings
from .harness import stop_process_group
from .report import PASS, Report, Result

# One grading run of some checks; nbgrader_config.py gives a cell more (Execute.timeout).
GRADE_TIME_LIMIT = settings.VERDICT_TIME_LIMIT
HIDDEN_DETAILS = "AUTOGRADER_HIDDEN_DETAILS"
OUTPUT_KEPT = 32 * 1024  # bytes of the grader's output shown from its start, and from its end
# The environment the grader gets: nothing a notebook cell set for the grader's own settings.
KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "CHROMIUM_PATH")
NOT_PASSED, BAD_INPUT = 1, 2


class BoundedOutput:
    """The first and last OUTPUT_KEPT bytes of a stream, and how much was cut between."""

    def __init__(self, echo: bool):
        self.echo = echo
        self.head = bytearray()
        self.tail = bytearray()
        self.cut = 0

    def add(self, data: bytes) -> None:
        room = OUTPUT_KEPT - len(self.head)
        if room > 0:
            self.head += data[:room]
            if self.echo:
                sys.stdout.write(data[:room].decode(errors="replace"))
                sys.stdout.flush()
            data = data[room:]
        self.tail += data
        if len(self.tail) > OUTPUT_KEPT:
            self.cut += len(self.tail) - OUTPUT_KEPT
            del self.tail[:-OUTPUT_KEPT]

    def finish(self) -> str:
        """Echo the end (after a note of what was cut); the whole kept text."""
        note = f"\n[… {self.cut:,} bytes of output cut …]\n" if self.cut else ""
        rest = self.tail.decode(errors="replace")
        if self.echo and (note or rest):
            sys.stdout.write(note + rest)
            sys.stdout.flush()
        return self.head.decode(errors="replace") + note + rest


def grader_environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}
    return {**env, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}


def run_grader(
    lesson: str, folder: Path, checks: list[str], echo: bool
) -> tuple[Report | None, str]:
    """The grader on ``folder`` for ``checks``: (its report or None, why there is none)."""
    with tempfile.TemporaryDirectory(prefix="autograder-verdict-") as private:
        report_path = Path(private) / "report.json"
        command = [sys.executable, "-I", "-m", "autograder", lesson, str(folder)]
        command += ["--checks", ",".join(checks), "--json", str(report_path)]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # the cell's stderr stays clean: nbgrader scores it 0
            env=grader_environment(),
            start_new_session=True,
        )
        output = BoundedOutput(echo)
        timed_out = _relay(process, output, time.monotonic() + GRADE_TIME_LIMIT)
        text = output.finish()
        if timed_out:
            return None, (
                f"The grader did not finish within {GRADE_TIME_LIMIT:.0f} s and was stopped. "
                "Something in your app keeps it busy (an endless loop, a long sleep, a blocking "
                "call): run the cells again and read the output above."
            )
        if not report_path.is_file():
            tail = "\n".join(text.rstrip().splitlines()[-30:])
            return None, (
                f"The grader stopped (exit code {process.returncode}) without a report. "
                f"Its last output:\n{tail}"
            )
        return Report.read_json(report_path), ""


def _relay(process: subprocess.Popen, output: BoundedOutput, deadline: float) -> bool:
    """Pass the grader's output on as it comes; stop it at the deadline. True if it was late."""
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
                output.add(data)
                continue
            if ready or process.poll() is not None:
                break
    stop_process_group(process)  # nothing the grader started may outlive it
    process.stdout.close()
    return timed_out


def describe(result: Result) -> str:
    lines = [f"Exercise {result.exercise}: {result.title} — {result.status}"]
    for label in ("summary", "sent", "expected", "received", "hint"):
        value = getattr(result, label)
        if value not in (None, ""):
            name = "what went wrong" if label == "summary" else label
            lines.append(f"  {name + ':':<17}{value}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -I -m autograder.verdict", description=__doc__)
    parser.add_argument("lesson")
    parser.add_argument("folder", type=Path, help="the folder the notebook wrote, e.g. app")
    parser.add_argument("exercise")
    parser.add_argument("checks", nargs="+")
    parser.add_argument("--hidden", action="store_true", help="the instructor's hidden checks")
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    if not folder.is_dir():
        print(
            f"There is no folder {args.folder} next to this notebook. Run the %%writefile "
            "cells above first (Run > Run All Cells)."
        )
        return BAD_INPUT
    if args.hidden:
        print(f"Exercise {args.exercise}: {len(args.checks)} hidden check(s) ...", flush=True)
    report, problem = run_grader(args.lesson, folder, args.checks, echo=not args.hidden)
    if report is None:
        print(problem)
        return NOT_PASSED
    results = [r for r in report.results if r.check in args.checks]
    if {r.check for r in results} != set(args.checks):
        print(f"The grader ran no check {sorted(set(args.checks) - {r.check for r in results})}")
        return NOT_PASSED
    failed = [r for r in results if r.status != PASS]
    if args.hidden:
        print(f"Exercise {args.exercise}: {len(results) - len(failed)} of {len(results)} passed.")
        if failed and os.environ.get(HIDDEN_DETAILS) == "1":
            print("\n\n".join(describe(r) for r in failed))
    return NOT_PASSED if failed else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
