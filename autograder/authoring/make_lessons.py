"""Generate lessons/NN from solutions/NN: `python -m autograder.authoring.make_lessons [--check]`.

Every solution region of the lesson becomes a stub that names its exercise; earlier lessons'
markers are dropped, their code kept. A lesson with a bug hunt gets its defect first (bugs.py).
The lesson text, lessons/NN/README.md, is hand-written except for its exercise table, which
comes from the manifest (exercise_tables.py).
"""

import argparse
import sys
from pathlib import Path

from ..paths import COURSE_ROOT, LESSONS, SOLUTIONS, source_files
from .bugs import with_bug
from .exercise_tables import TableError, stale_documents, write_documents
from .regions import RegionError, make_starter

LESSON_TEXT = "README.md"


def expected_lesson(solution_dir: Path) -> dict[Path, bytes]:
    """What lessons/NN should hold, file by file (the README excepted)."""
    readme = f"lessons/{solution_dir.name}/{LESSON_TEXT}"
    files = {}
    for relative in source_files(solution_dir):
        data = (solution_dir / relative).read_bytes()
        try:
            text = data.decode()
        except UnicodeDecodeError:
            files[relative] = data
            continue
        number = solution_dir.name[:2]
        text = with_bug(solution_dir.name, str(relative), text)
        files[relative] = make_starter(text, str(relative), readme, number).encode()
    return files


def _shown(path: Path, lessons_root: Path) -> str:
    """A path as the user knows it: relative to the course (or to the given lessons root)."""
    for base in (COURSE_ROOT, lessons_root.parent):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return str(path)


def differences(solution_dir: Path, lessons_root: Path = LESSONS) -> list[str]:
    lesson_dir = lessons_root / solution_dir.name
    expected = expected_lesson(solution_dir)
    actual = {p for p in source_files(lesson_dir)} if lesson_dir.is_dir() else set()
    actual.discard(Path(LESSON_TEXT))
    problems = []
    for relative, data in expected.items():
        path = lesson_dir / relative
        if not path.is_file():
            problems.append(f"missing: {_shown(path, lessons_root)}")
        elif path.read_bytes() != data:
            problems.append(f"differs: {_shown(path, lessons_root)}")
    for relative in sorted(actual - set(expected)):
        problems.append(f"not in solutions/: {_shown(lesson_dir / relative, lessons_root)}")
    if not (lesson_dir / LESSON_TEXT).is_file():
        problems.append(f"no lesson text: {_shown(lesson_dir / LESSON_TEXT, lessons_root)}")
    return problems


def write_lesson(solution_dir: Path, lessons_root: Path = LESSONS) -> None:
    lesson_dir = lessons_root / solution_dir.name
    expected = expected_lesson(solution_dir)
    if lesson_dir.is_dir():
        for relative in source_files(lesson_dir):
            if relative != Path(LESSON_TEXT) and relative not in expected:
                (lesson_dir / relative).unlink()
    for relative, data in expected.items():
        target = lesson_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"{_shown(lesson_dir, lessons_root)}: {len(expected)} files from solutions/")


def solution_stages(solutions_root: Path = SOLUTIONS) -> list[Path]:
    return [p for p in sorted(solutions_root.iterdir()) if p.is_dir() and p.name[:2].isdigit()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 on any")
    parser.add_argument("--solutions", type=Path, default=SOLUTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--lessons", type=Path, default=LESSONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stages = solution_stages(args.solutions)
    for stage in stages:  # a malformed marker is reported as file:line, before anything is written
        try:
            expected_lesson(stage)
        except RegionError as error:
            print(f"{_shown(stage, args.solutions)}/{error}", file=sys.stderr)
            return 1
    try:
        stale_documents()
    except TableError as error:
        print(error, file=sys.stderr)
        return 1
    if args.check:
        problems = [p for stage in stages for p in differences(stage, args.lessons)]
        if args.lessons == LESSONS:
            stale = stale_documents()
            problems += [f"stale exercise table: {_shown(p, args.lessons)}" for p in stale]
        for problem in problems:
            print(problem)
        if problems:
            print("lessons/ is stale: run `make lessons`.")
        return 1 if problems else 0
    for stage in stages:
        write_lesson(stage, args.lessons)
    if args.lessons == LESSONS:
        write_documents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
