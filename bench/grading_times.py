"""How long grading takes: each lesson's solution, and the slowest case of the mistakes corpus.

    .venv/bin/python bench/grading_times.py [--runs 3] [--lessons 01,02]

The solution is graded ``--runs`` times through the real CLI (median [min-max]). Every case of
tests/mistakes/NN_name/ is graded once as a student would hand it in (the whole lesson, no
--only), then the slowest one ``--runs - 1`` more times. Budgets (issue 14): a solution in
<= 15 s, any failing submission in <= 30 s. Results: bench/results/grading_times.{json,md}
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
NAME = "grading_times"
LESSONS = ["01", "02", "03", "04"]
SOLUTION_BUDGET, FAILING_BUDGET = 15.0, 30.0
RUN_LIMIT = 300.0


def corpus_module():
    """tests/test_mistakes.py, where the corpus's format is read (one place for it)."""
    path = COURSE_ROOT / "tests" / "test_mistakes.py"
    spec = importlib.util.spec_from_file_location("mistakes_corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def grade(lesson: str, path: Path | None) -> tuple[float, dict]:
    """Wall seconds of one real grading run, and its report."""
    with tempfile.TemporaryDirectory(prefix="grading-times-") as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "autograder", lesson]
        command += [str(path)] if path else ["--solution"]
        command += ["--json", str(report)]
        started = time.monotonic()
        subprocess.run(
            command,
            cwd=COURSE_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=RUN_LIMIT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        seconds = time.monotonic() - started
        return seconds, json.loads(report.read_text()) if report.is_file() else {}


def spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "runs": [round(v, 1) for v in values],
    }


def measure(lesson: str, runs: int, corpus) -> dict:
    solution = [grade(lesson, None)[0] for _ in range(runs)]
    print(f"  {lesson} solution: {', '.join(f'{s:.1f}' for s in solution)} s", flush=True)
    row: dict = {"lesson": lesson, "solution": spread(solution), "cases": 0}
    cases = sorted(COURSE_ROOT.glob(f"tests/mistakes/{lesson}_*/*.patch")) if corpus else []
    if not cases:
        return row
    timed = []
    with tempfile.TemporaryDirectory(prefix="grading-times-cases-") as folder:
        for number, path in enumerate(cases):
            case = corpus.read_case(path)
            copy = corpus.apply_case(case, Path(folder) / str(number) / case.stage)
            seconds, report = grade(lesson, copy)
            timed.append((seconds, path, copy, report))
            print(f"  {lesson} {path.stem}: {seconds:.1f} s", flush=True)
        seconds, path, copy, report = max(timed, key=lambda t: t[0])
        again = [seconds] + [grade(lesson, copy)[0] for _ in range(runs - 1)]
    row.update(
        cases=len(cases),
        slowest_case=path.stem,
        slowest=spread(again),
        all_cases={p.stem: round(s, 1) for s, p, _, _ in timed},
        errored=sorted(
            p.stem
            for _, p, _, r in timed
            if any(x["status"] == "ERROR" for x in r.get("results", []))
        ),
    )
    return row


def table(rows: list[dict], runs: int) -> str:
    lines = [
        "# Grading times",
        "",
        f"`bench/grading_times.py --runs {runs}` on {platform.node()} "
        f"({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Wall seconds of `python -m autograder NN`, median [min-max] of the runs. The failing "
        "case is the slowest of tests/mistakes/NN_*/ graded whole (no --only), as handed in.",
        "",
        f"| Lesson | Solution (budget {SOLUTION_BUDGET:g} s) | Corpus cases | Slowest failing "
        f"case | Its time (budget {FAILING_BUDGET:g} s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        s = row["solution"]
        solution = f"{s['median']} [{s['min']}-{s['max']}]"
        solution += "" if s["median"] <= SOLUTION_BUDGET else " **over**"
        if row["cases"]:
            w = row["slowest"]
            slow = f"{w['median']} [{w['min']}-{w['max']}]"
            slow += "" if w["median"] <= FAILING_BUDGET else " **over**"
            lines.append(
                f"| {row['lesson']} | {solution} | {row['cases']} | `{row['slowest_case']}` "
                f"| {slow} |"
            )
        else:
            lines.append(f"| {row['lesson']} | {solution} | 0 | — | — |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lessons", default=",".join(LESSONS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-corpus", action="store_true", help="time the solutions only")
    args = parser.parse_args(argv)
    corpus = None if args.no_corpus else corpus_module()
    rows = [measure(lesson, args.runs, corpus) for lesson in args.lessons.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    earlier = args.out / f"{NAME}.json"  # the lessons not measured this time keep their rows
    if earlier.is_file():
        measured = {row["lesson"] for row in rows}
        kept = [row for row in json.loads(earlier.read_text()) if row["lesson"] not in measured]
        rows = sorted(rows + kept, key=lambda row: row["lesson"])
    (args.out / f"{NAME}.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / f"{NAME}.md").write_text(table(rows, args.runs))
    print(table(rows, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
