"""What the student sees: one line per check as it runs, details on failure, a total."""

from __future__ import annotations

import pprint
import textwrap
from typing import Any, TextIO

from .report import ERROR, FAIL, PASS, SKIP, Report, Result


def details_key(result: Result) -> tuple:
    """What makes two failures the same for the student."""
    return (result.status, result.summary, str(result.expected), str(result.received))


def show(value: Any) -> str:
    text = value if isinstance(value, str) else pprint.pformat(value, width=72)
    return textwrap.shorten(text, 600, placeholder=" …") if "\n" not in text else text


def print_result(
    result: Result, position: int, total: int, out: TextIO, same_as: int | None = None
) -> None:
    """One progress line; on failure the details, or a pointer to check ``same_as`` above
    when they are exactly the same (an app that did not start fails every check alike)."""
    width = len(str(total))
    line = (
        f"[{position:>{width}}/{total}] {result.status:<5} Exercise {result.exercise:<5} "
        f"{result.title:<58} {result.points}/{result.max_points}"
    )
    print(line, file=out, flush=True)
    if result.status == PASS:
        return
    if same_as is not None:
        print(
            f"      {'what went wrong:':<18}{result.summary} (as in [{same_as}] above)\n", file=out
        )
        return
    details = [
        ("why skipped" if result.status == SKIP else "what went wrong", result.summary),
        ("sent", result.sent),
        ("expected", result.expected),
        ("received", result.received),
        ("hint", result.hint),
    ]
    for label, value in details:
        if value not in (None, ""):
            body = textwrap.indent(show(value), " " * 24).lstrip()
            print(f"      {label + ':':<18}{body}", file=out)
    print(file=out, flush=True)


def print_total(report: Report, out: TextIO) -> None:
    failed = [r for r in report.results if r.status in (FAIL, ERROR)]
    skipped = [r for r in report.results if r.status == SKIP]
    if report.passed:
        verdict = "all checks passed"
    else:
        total = len(report.results)
        parts = [f"{len(failed)} of {total} checks did not pass"] if failed or not total else []
        if skipped:
            parts.append(f"{len(skipped)} of {total} could not run here (SKIP, see above)")
        verdict = "; ".join(parts)
    print(f"Score: {report.score}/{report.max_score} — {verdict}.", file=out, flush=True)
    to_do = sorted({r.exercise for r in failed}, key=lambda e: [int(n) for n in e.split(".")])
    if report.setup_error:
        print("First make the app start: see the output it printed above.", file=out, flush=True)
    elif to_do:
        print(f"Work on: Exercise {', '.join(to_do)}.", file=out, flush=True)
