"""`python -m autograder NN [PATH]`: grade a stage and print what to fix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paths import LESSONS, SOLUTIONS, stage_dir_name
from .runner import grade


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade a course stage by starting it for real and talking to it.",
    )
    parser.add_argument("lesson", help="the lesson number, e.g. 01")
    parser.add_argument(
        "path", nargs="?", type=Path, help="the stage folder to grade (default: lessons/NN_name)"
    )
    parser.add_argument("--solution", action="store_true", help="grade solutions/NN_name")
    parser.add_argument("--only", default="", help="comma-separated exercise ids, e.g. 1.2,1.3")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds one check may take (default 30)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    number = args.lesson.zfill(2)
    stage = stage_dir_name(number)
    path = args.path or (SOLUTIONS if args.solution else LESSONS) / stage
    if not path.is_dir():
        print(f"No folder {path} to grade.", file=sys.stderr)
        return 2
    only = {item.strip() for item in args.only.split(",") if item.strip()}
    extra = {"time_limit": args.time_limit} if args.time_limit else {}
    try:
        report = grade(number, path, only=only or None, **extra)
    except KeyboardInterrupt:
        print("\nInterrupted: every process the grader started has been stopped.", file=sys.stderr)
        return 130
    if args.json:
        report.write_json(args.json)
    return 0 if report.passed else 1
