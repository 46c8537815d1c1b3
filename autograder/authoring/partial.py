"""A stage part-way through its lesson: some exercises solved, the rest left as the starter's
stubs. `python -m autograder.authoring.partial 02 OUT --solved 2.1,2.3`

This is what a student who has done only those exercises hands in (with the lesson's bug-hunt
defect unless its exercise is among them); the partial-credit test
(tests/test_partial_credit.py) grades such copies to show that one exercise's stub does not
cost the points of another.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..manifest import load_manifest
from ..paths import SOLUTIONS, source_files, stage_dir_name
from .bugs import with_bug
from .regions import make_partial


def write_partial(number: str, solved: set[str], out: Path, solutions_root: Path = SOLUTIONS):
    """Write lesson ``number``'s stage to ``out`` with only the ``solved`` exercises done."""
    stage = stage_dir_name(number)
    solution_dir = solutions_root / stage
    readme = f"lessons/{stage}/README.md"
    for relative in source_files(solution_dir):
        data = (solution_dir / relative).read_bytes()
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = data.decode()
        except UnicodeDecodeError:
            target.write_bytes(data)
            continue
        text = with_bug(stage, str(relative), text, solved)
        target.write_text(make_partial(text, str(relative), readme, stage[:2], solved))
    return out


def prefix(number: str, k: int) -> list[str]:
    """The first ``k`` exercises of the lesson, in the manifest's order."""
    return load_manifest(number).ids[:k]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lesson", help="the lesson number, e.g. 02")
    parser.add_argument("out", type=Path, help="the folder to write (created)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--solved", help="comma-separated exercise ids, e.g. 2.1,2.3")
    group.add_argument("--first", type=int, help="solve the lesson's first K exercises")
    args = parser.parse_args(argv)
    number = args.lesson.zfill(2)
    ids = load_manifest(number).ids
    solved = set(ids[: args.first]) if args.first is not None else set(args.solved.split(","))
    unknown = solved - set(ids)
    if unknown:
        print(f"lesson {number} has no exercise {sorted(unknown)}", file=sys.stderr)
        return 2
    write_partial(number, solved, args.out)
    print(f"{args.out}: lesson {number} with {sorted(solved) or 'nothing'} solved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
