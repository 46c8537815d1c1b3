"""`python -m autograder NN [PATH]`: grade a stage and print what to fix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .containment import run_in_private_network
from .manifest import LessonManifest, ManifestError, load_manifest
from .paths import LESSONS, SOLUTIONS, stage_dir_name
from .runner import grade

BAD_INPUT = 2
INTERRUPTED = 130


class InputError(Exception):
    """The command line asks for something that does not exist; the message says what does."""


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
    parser.add_argument(
        "--checks", default="", help="comma-separated check names: grade just these"
    )
    parser.add_argument("--json", metavar="FILE", type=Path, help="also write the report as JSON")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds one check may take (default: settings.CHECK_TIME_LIMIT)",
    )
    return parser.parse_args(argv)


def resolve(args: argparse.Namespace) -> tuple[LessonManifest, Path, set[str], set[str]]:
    """Check the whole command line before anything starts, so bad input loses nothing."""
    if not args.lesson.isdigit():
        raise InputError(f"The lesson is a number such as 01, not {args.lesson!r}.")
    number = args.lesson.zfill(2)
    try:
        stage = stage_dir_name(number)
    except SystemExit as error:
        raise InputError(str(error)) from None
    try:
        lesson = load_manifest(number)
    except ManifestError:
        raise InputError(
            f"Lesson {number} has no exercises yet (no course/{stage}.toml)."
        ) from None
    path = args.path or (SOLUTIONS if args.solution else LESSONS) / stage
    if not path.is_dir():
        raise InputError(f"No folder {path} to grade.")
    only = {item.strip() for item in args.only.split(",") if item.strip()}
    unknown = sorted(only - set(lesson.ids))
    if unknown:
        known = ", ".join(lesson.ids)
        raise InputError(f"Lesson {number} has no exercise {', '.join(unknown)}; it has {known}.")
    checks = {item.strip() for item in args.checks.split(",") if item.strip()}
    listed = {name for exercise in lesson.exercises for name in exercise.check_names}
    if checks - listed:
        raise InputError(f"Lesson {number} has no check {', '.join(sorted(checks - listed))}.")
    if args.json and not args.json.parent.is_dir():
        raise InputError(f"Cannot write {args.json}: the folder {args.json.parent} does not exist.")
    if args.time_limit is not None and args.time_limit <= 0:
        raise InputError("--time-limit must be a positive number of seconds.")
    return lesson, path, only, checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        lesson, path, only, checks = resolve(args)
    except InputError as error:
        print(error, file=sys.stderr)
        return BAD_INPUT
    inside = run_in_private_network("autograder", sys.argv[1:] if argv is None else argv)
    if inside is not None:
        return inside
    extra = {"time_limit": args.time_limit} if args.time_limit else {}
    try:
        report = grade(lesson.number, path, only=only or None, checks=checks or None, **extra)
    except KeyboardInterrupt:
        print("\nInterrupted: every process the grader started has been stopped.", file=sys.stderr)
        return INTERRUPTED
    if args.json:
        report.write_json(args.json)
    return 0 if report.passed else 1
