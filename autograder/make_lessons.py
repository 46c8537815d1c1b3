"""Generate lessons/NN from solutions/NN: `python -m autograder.make_lessons [--check]`.

Every solution region becomes a stub that names its exercise. The lesson text,
lessons/NN/README.md, is hand-written and left alone.
"""

import argparse
import sys
from pathlib import Path

from .paths import COURSE_ROOT, LESSONS, SOLUTIONS, source_files
from .regions import make_starter

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
        files[relative] = make_starter(text, str(relative), readme).encode()
    return files


def differences(solution_dir: Path) -> list[str]:
    lesson_dir = LESSONS / solution_dir.name
    expected = expected_lesson(solution_dir)
    actual = {p for p in source_files(lesson_dir)} if lesson_dir.is_dir() else set()
    actual.discard(Path(LESSON_TEXT))
    problems = []
    for relative, data in expected.items():
        path = lesson_dir / relative
        if not path.is_file():
            problems.append(f"missing: {path.relative_to(COURSE_ROOT)}")
        elif path.read_bytes() != data:
            problems.append(f"differs: {path.relative_to(COURSE_ROOT)}")
    for relative in sorted(actual - set(expected)):
        problems.append(f"not in solutions/: {(lesson_dir / relative).relative_to(COURSE_ROOT)}")
    if not (lesson_dir / LESSON_TEXT).is_file():
        problems.append(f"no lesson text: lessons/{solution_dir.name}/{LESSON_TEXT}")
    return problems


def write_lesson(solution_dir: Path) -> None:
    lesson_dir = LESSONS / solution_dir.name
    expected = expected_lesson(solution_dir)
    if lesson_dir.is_dir():
        for relative in source_files(lesson_dir):
            if relative != Path(LESSON_TEXT) and relative not in expected:
                (lesson_dir / relative).unlink()
    for relative, data in expected.items():
        target = lesson_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"lessons/{solution_dir.name}: {len(expected)} files from solutions/")


def solution_stages() -> list[Path]:
    return [p for p in sorted(SOLUTIONS.iterdir()) if p.is_dir() and p.name[:2].isdigit()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drift; exit 1 on any")
    args = parser.parse_args(argv)
    if args.check:
        problems = [p for stage in solution_stages() for p in differences(stage)]
        for problem in problems:
            print(problem)
        if problems:
            print("lessons/ is stale: run `make lessons`.")
        return 1 if problems else 0
    for stage in solution_stages():
        write_lesson(stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
