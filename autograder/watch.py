"""`make watch LESSON=NN`: grade again whenever a file of the stage is saved.

It grades the whole stage once, then follows the first exercise not yet passing: each save
grades that exercise (--only); when it passes, the next one is graded at once. Type `h` and
Enter for that exercise's next hint, `q` and Enter (or Ctrl-C) to stop.

python -m autograder.watch 02 [PATH] [--solution]
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from . import progress
from .hints import next_hint
from .manifest import LessonManifest, load_manifest
from .paths import LESSONS, SOLUTIONS, folder_digest, stage_dir_name
from .runner import exit_process, grade

POLL_SECONDS = 0.5
SETTLE_SECONDS = 0.3  # an editor that writes a file in several steps is done by then


class Watcher:
    def __init__(self, lesson: LessonManifest, stage_dir: Path, out: TextIO = sys.stdout):
        self.lesson = lesson
        self.stage_dir = stage_dir
        self.out = out
        self.passed: set[str] = set()

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    @property
    def current(self) -> str | None:
        """The first exercise not passing yet, in the manifest's order."""
        return next((e for e in self.lesson.ids if e not in self.passed), None)

    def grade(self, only: set[str] | None) -> None:
        report = grade(self.lesson.number, self.stage_dir, only=only, out=self.out)
        graded = {r.exercise for r in report.results}
        self.passed = (self.passed - graded) | report.passed_exercises()
        progress.record_passed(self.lesson.number, self.passed)

    def follow(self) -> None:
        """Grade the current exercise, and the next ones for as long as they pass."""
        while (exercise := self.current) is not None:
            before = set(self.passed)
            self.grade({exercise})
            if exercise not in self.passed or self.passed == before:
                break
            self.say(f"\nExercise {exercise} passes. On to the next one.\n")
        self.status()

    def status(self) -> None:
        done = len([e for e in self.lesson.ids if e in self.passed])
        total = len(self.lesson.ids)
        bar = "#" * done + "." * (total - done)
        if self.current is None:
            self.say(
                f"\nProgress [{bar}] {done}/{total}: every exercise of lesson "
                f"{self.lesson.number} passes."
            )
            return
        exercise = self.lesson.exercise(self.current)
        self.say(
            f"\nProgress [{bar}] {done}/{total}. Next: Exercise {exercise.id}, {exercise.title}.\n"
            "Save a file to grade it again; type h + Enter for a hint, q + Enter to stop."
        )


def read_commands(commands: queue.Queue) -> None:
    for line in sys.stdin:
        commands.put(line.strip().lower())
    commands.put("eof")


def watch(lesson: LessonManifest, stage_dir: Path, poll: float = POLL_SECONDS) -> int:
    watcher = Watcher(lesson, stage_dir)
    watcher.say(f"Watching {stage_dir} (lesson {lesson.number}). First, every check:\n")
    watcher.grade(None)
    watcher.status()
    if watcher.current is None:
        return 0
    commands: queue.Queue = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
    seen = folder_digest(stage_dir)
    while True:
        try:
            command = commands.get(timeout=poll)
        except queue.Empty:
            command = None
        if command in ("q", "quit"):
            return 0 if watcher.current is None else 1
        if command in ("h", "hint") and watcher.current:
            watcher.say(next_hint(lesson.exercise(watcher.current)))
        now = folder_digest(stage_dir)
        if now == seen:
            continue
        time.sleep(SETTLE_SECONDS)
        seen = folder_digest(stage_dir)
        watcher.say("\nA file changed: grading again.\n")
        watcher.follow()
        if watcher.current is None:
            return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make watch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("lesson", help="the lesson number, e.g. 02")
    parser.add_argument("path", nargs="?", type=Path, help="default: lessons/NN_name")
    parser.add_argument("--solution", action="store_true", help="watch solutions/NN_name")
    args = parser.parse_args(argv)
    number = args.lesson.zfill(2)
    lesson = load_manifest(number)
    stage_dir = args.path or (SOLUTIONS if args.solution else LESSONS) / stage_dir_name(number)
    try:
        return watch(lesson, stage_dir.resolve())
    except KeyboardInterrupt:
        print("\nStopped watching.", flush=True)
        return 130


if __name__ == "__main__":
    exit_process(main())
