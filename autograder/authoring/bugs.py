"""Bug hunts: a lesson's last exercise hands the student a stage that boots but has one
production defect, to reproduce, diagnose with the lesson's troubleshooting tools, and fix.

The defect is a recorded patch against solutions/NN_name (course/bugs/NN_name.patch), named by
the exercise's ``bug`` key in the manifest. It changes only lines outside solution regions, so
make_lessons, partial and the notebook's release apply it to the solution text and then stub
the regions as usual: the stubs leave the defect in place. Hunks are found by their text, not
their line numbers, so one patch applies both to a solution file and to the workbook's copy of
it (which drops earlier lessons' markers); a hunk must match exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..manifest import ManifestError, load_manifest
from ..paths import COURSE_ROOT

HUNK_HEADER = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


class BugError(ValueError):
    """A bug patch that does not apply to the text it is meant for."""


@dataclass(frozen=True)
class Hunk:
    lines: tuple[tuple[str, str], ...]  # (" ", "-" or "+", text)

    @property
    def old(self) -> list[str]:
        return [text for tag, text in self.lines if tag != "+"]

    @property
    def new(self) -> list[str]:
        return [text for tag, text in self.lines if tag != "-"]


def parse_patch(text: str) -> dict[str, list[Hunk]]:
    """A unified diff (``--- a/x`` / ``+++ b/x``), file by file; header lines before it ignored."""
    files: dict[str, list[Hunk]] = {}
    lines = text.splitlines()
    current: list[Hunk] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        header = HUNK_HEADER.match(line)
        if line.startswith("+++ "):
            name = line[4:].split("\t")[0].removeprefix("b/")
            current = files.setdefault(name, [])
        elif header and current is not None:
            old_left, new_left = int(header[1] or 1), int(header[2] or 1)
            body = []
            while old_left > 0 or new_left > 0:
                tag, rest = (lines[index][:1] or " "), lines[index][1:]
                index += 1
                if tag == "\\":  # "\ No newline at end of file"
                    continue
                body.append((tag, rest))
                old_left -= tag != "+"
                new_left -= tag != "-"
            current.append(Hunk(tuple(body)))
    return files


def apply_hunks(text: str, hunks: list[Hunk], where: str) -> str:
    lines = text.splitlines()
    for hunk in hunks:
        old = hunk.old
        starts = [i for i in range(len(lines) - len(old) + 1) if lines[i : i + len(old)] == old]
        if len(starts) != 1:
            raise BugError(f"{where}: a hunk matches {len(starts)} places, not exactly one")
        lines[starts[0] : starts[0] + len(old)] = hunk.new
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


@dataclass(frozen=True)
class Bug:
    exercise: str
    patch: Path

    @property
    def hunks(self) -> dict[str, list[Hunk]]:
        return parse_patch(self.patch.read_text())

    @property
    def files(self) -> set[str]:
        return set(self.hunks)

    def apply(self, relative: str, text: str) -> str:
        """``text`` of the stage's file ``relative`` with the defect (unchanged if untouched)."""
        hunks = self.hunks.get(Path(relative).as_posix())
        if not hunks:
            return text
        return apply_hunks(text, hunks, f"{self.patch.name} on {relative}")


@cache
def bug_of(number: str) -> Bug | None:
    """The bug hunt of lesson ``number``, or None when it has none."""
    for exercise in load_manifest(number).exercises:
        if exercise.bug:
            return Bug(exercise.id, COURSE_ROOT / exercise.bug)
    return None


def with_bug(stage: str, relative: str, text: str, solved: set[str] | None = None) -> str:
    """``text`` of ``stage``'s file ``relative`` as the student gets it: with the lesson's defect,
    unless its hunt is ``solved`` (a stage that is not the course's own, a test's, has none)."""
    number = stage[:2]
    try:
        bug = bug_of(number) if load_manifest(number).stage == stage else None
    except ManifestError:  # no lesson of that number at all
        bug = None
    if bug is None or (solved is not None and bug.exercise in solved):
        return text
    return bug.apply(relative, text)
