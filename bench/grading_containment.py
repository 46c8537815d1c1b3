"""What containment costs: grading each lesson's solution with it and without, side by side.

    .venv/bin/python bench/grading_containment.py [--runs 5] [--lessons 01,02]

Each round grades a lesson's solution twice through the real CLI, once contained (bubblewrap
file view, a cgroup, a private network) and once with AUTOGRADER_CONTAIN=0, in alternating
order, so drift in the machine's speed hits both alike. Reported: wall seconds, median
[min-max], and the median of the per-round ratios. Results: bench/results/grading_containment.*
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
NAME = "grading_containment"
LESSONS = ["01", "02", "03", "04"]
RUN_LIMIT = 300.0
MAX_FAILED_ROUNDS = 2  # rounds left out because a run did not pass (a busy machine)


def grade_once(lesson: str, contained: bool) -> float:
    env = {**os.environ, "AUTOGRADER_CONTAIN": "1" if contained else "0"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "autograder", lesson, "--solution"],
        cwd=COURSE_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:  # a run that did not pass is not a time: its round is left out
        failed = [line for line in done.stdout.splitlines() if " FAIL " in line or "ERROR" in line]
        print(f"lesson {lesson} (contained={contained}) did not pass:", *failed, sep="\n  ")
        return None
    return seconds


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}–{max(values):.1f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lessons", default=",".join(LESSONS))
    args = parser.parse_args(argv)
    rows = []
    for lesson in args.lessons.split(","):
        grade_once(lesson, True)  # warm-up: caches, the simple-websocket venv, Chromium
        contained, bare, failed_rounds = [], [], 0
        for round_number in range(args.runs + MAX_FAILED_ROUNDS):
            if len(contained) == args.runs or failed_rounds > MAX_FAILED_ROUNDS:
                break
            order = (True, False) if round_number % 2 == 0 else (False, True)
            times = {mode: grade_once(lesson, mode) for mode in order}
            print(f"lesson {lesson} round {round_number + 1}: {times}", flush=True)
            if None in times.values():
                failed_rounds += 1
                continue
            contained.append(times[True])
            bare.append(times[False])
        if not contained:
            print(f"lesson {lesson}: no round passed", file=sys.stderr)
            return 1
        ratios = [c / b for c, b in zip(contained, bare, strict=True)]
        rows.append(
            {
                "lesson": lesson,
                "contained_s": contained,
                "uncontained_s": bare,
                "ratio_median": statistics.median(ratios),
                "failed_rounds": failed_rounds,
            }
        )
    RESULTS.mkdir(exist_ok=True)
    measured = {row["lesson"] for row in rows}
    with contextlib.suppress(OSError, ValueError, KeyError):
        earlier = json.loads((RESULTS / f"{NAME}.json").read_text())["rows"]
        rows = sorted(
            rows + [r for r in earlier if r["lesson"] not in measured], key=lambda r: r["lesson"]
        )
    machine = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "runs": args.runs,
    }
    (RESULTS / f"{NAME}.json").write_text(json.dumps({**machine, "rows": rows}, indent=2))
    lines = [
        "# Grading a solution with and without containment",
        "",
        f"`bench/grading_containment.py --runs {args.runs}` on {machine['cpus']} CPUs, load "
        f"average at the end {machine['load_average'][0]:.2f}. Wall seconds of one "
        "`python -m autograder NN --solution`, median [min–max]; the ratio is the median of "
        "each round's contained / uncontained.",
        "",
        "| Lesson | Contained (s) | Uncontained (s) | Ratio | Rounds left out |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {r['lesson']} | {spread(r['contained_s'])} | {spread(r['uncontained_s'])} | "
            f"{r['ratio_median']:.2f} | {r.get('failed_rounds', 0)} |"
            for r in rows
        ),
        "",
        "A round is left out when one of its runs did not pass (a check timed out on a busy "
        "machine); the script prints which.",
        "",
    ]
    (RESULTS / f"{NAME}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
