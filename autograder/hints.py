"""`make hint EX=2.3`: the next hint level of an exercise, remembered between calls.

python -m autograder.hints 2.3            # the next level not yet shown
python -m autograder.hints 2.3 --all      # every level shown so far, and the next
python -m autograder.hints 2.3 --reset    # start again from level 1
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from . import progress
from .manifest import EXERCISE_ID, Exercise, ManifestError, load_manifest

BAD_INPUT = 2


def find_exercise(exercise_id: str) -> Exercise:
    match = EXERCISE_ID.match(exercise_id.strip())
    if not match:
        raise ManifestError(f"An exercise is named like 2.3, not {exercise_id!r}.")
    lesson = load_manifest(match[1])
    try:
        return lesson.exercise(exercise_id.strip())
    except KeyError:
        known = ", ".join(lesson.ids)
        raise ManifestError(
            f"Lesson {lesson.number} has no exercise {exercise_id}; it has {known}."
        ) from None


def format_hint(exercise: Exercise, level: int) -> str:
    text = " ".join(exercise.hints[level - 1].split())
    body = textwrap.fill(text, 92, initial_indent="  ", subsequent_indent="  ")
    return f"Exercise {exercise.id}, hint {level} of {len(exercise.hints)}:\n{body}"


def next_hint(exercise: Exercise) -> str:
    """The next level not shown yet (the last one again once all were shown); remembered."""
    level = min(progress.hints_shown(exercise.id) + 1, len(exercise.hints))
    progress.record_hint_shown(exercise.id, level)
    text = format_hint(exercise, level)
    if level == len(exercise.hints):
        return text + "\n(That is the last hint. The reference is in solutions/.)"
    return text + f"\n(Ask again for hint {level + 1}.)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make hint EX=N.M",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("exercise", help="the exercise, e.g. 2.3")
    parser.add_argument("--all", action="store_true", help="every level shown so far")
    parser.add_argument("--reset", action="store_true", help="forget the levels shown")
    args = parser.parse_args(argv)
    try:
        exercise = find_exercise(args.exercise)
    except ManifestError as error:
        print(error, file=sys.stderr)
        return BAD_INPUT
    if args.reset:
        progress.forget_hints(exercise.id)
        print(f"Exercise {exercise.id}: hints start again from level 1.")
        return 0
    if args.all:
        shown = progress.hints_shown(exercise.id)
        for level in range(1, shown + 1):
            print(format_hint(exercise, level) + "\n")
    print(next_hint(exercise))
    return 0


if __name__ == "__main__":
    sys.exit(main())
