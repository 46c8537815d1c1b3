"""The course manifest: course/NN_name.toml lists each exercise of a lesson once.

An exercise has an id, a title, its points (per check), the files it touches, the exercises it
builds on, and hints in levels. The checks, the workbook generator, the CLI's --only, `make
hint`, `make watch` and the README's tables read it from here.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .paths import MANIFESTS

EXERCISE_ID = re.compile(r"^(\d+)\.(\d+)$")


class ManifestError(ValueError):
    """A manifest that is not well formed; the message names the file and the problem."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    files: tuple[str, ...]
    depends_on: tuple[str, ...]
    hints: tuple[str, ...]
    checks: tuple[tuple[str, int], ...]  # (check name, points), in grading order
    # A bug hunt (authoring/bugs.py): the patch that puts the defect in, and the cause in one
    # sentence that the workbook asks for ({"points": N, "answer": "..."}), graded by hand.
    bug: str = ""
    cause: dict | None = None

    @property
    def points(self) -> int:
        return sum(points for _, points in self.checks)

    @property
    def check_names(self) -> list[str]:
        return [name for name, _ in self.checks]


@dataclass(frozen=True)
class LessonManifest:
    number: str
    stage: str
    title: str
    exercises: tuple[Exercise, ...]
    notebook: dict
    path: Path

    @property
    def ids(self) -> list[str]:
        return [exercise.id for exercise in self.exercises]

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(f"lesson {self.number} has no exercise {exercise_id}")

    def points_of(self, check_name: str) -> int:
        for exercise in self.exercises:
            for name, points in exercise.checks:
                if name == check_name:
                    return points
        raise KeyError(f"{self.path.name} gives no points to check {check_name!r}")

    def needed_for(self, exercise_id: str) -> list[str]:
        """Every exercise ``exercise_id`` builds on, directly or not, in manifest order."""
        needed: set[str] = set()
        todo = list(self.exercise(exercise_id).depends_on)
        while todo:
            current = todo.pop()
            if current not in needed:
                needed.add(current)
                todo.extend(self.exercise(current).depends_on)
        return [i for i in self.ids if i in needed]


def _exercise(raw: dict, number: str, where: str) -> Exercise:
    exercise_id = str(raw.get("id", ""))
    match = EXERCISE_ID.match(exercise_id)
    if not match or match[1].zfill(2) != number:
        raise ManifestError(f"{where}: exercise id {exercise_id!r} is not {int(number)}.N")
    for key in ("title", "files", "hints", "checks"):
        if not raw.get(key):
            raise ManifestError(f"{where}: exercise {exercise_id} has no {key}")
    checks = tuple((str(name), int(points)) for name, points in raw["checks"].items())
    if raw.get("bug") and not (raw.get("cause") or {}).get("answer"):
        raise ManifestError(f"{where}: bug hunt {exercise_id} has no cause.answer")
    if any(points <= 0 for _, points in checks):
        raise ManifestError(f"{where}: exercise {exercise_id} has a check worth no points")
    return Exercise(
        id=exercise_id,
        title=str(raw["title"]).strip(),
        files=tuple(raw["files"]),
        depends_on=tuple(raw.get("depends_on", ())),
        hints=tuple(str(hint).strip() for hint in raw["hints"]),
        checks=checks,
        bug=str(raw.get("bug", "")),
        cause=raw.get("cause"),
    )


def parse(path: Path) -> LessonManifest:
    data = tomllib.loads(path.read_text())
    where = path.name
    stage = data.get("stage", "")
    number = stage[:2]
    if stage != path.stem or not number.isdigit():
        raise ManifestError(f"{where}: stage must be the file's name, e.g. {path.stem!r}")
    exercises = tuple(_exercise(raw, number, where) for raw in data.get("exercises", []))
    if not exercises:
        raise ManifestError(f"{where}: no [[exercises]]")
    ids = [e.id for e in exercises]
    if len(set(ids)) != len(ids):
        raise ManifestError(f"{where}: an exercise id appears twice")
    names = [name for e in exercises for name in e.check_names]
    if len(set(names)) != len(names):
        raise ManifestError(f"{where}: a check is listed twice")
    for position, exercise in enumerate(exercises):
        earlier = ids[:position]
        unknown = [d for d in exercise.depends_on if d not in earlier]
        if unknown:
            raise ManifestError(
                f"{where}: exercise {exercise.id} depends on {unknown}, which are not "
                "exercises listed before it"
            )
    return LessonManifest(
        number=number,
        stage=stage,
        title=str(data.get("title", "")).strip(),
        exercises=exercises,
        notebook=data.get("notebook", {}),
        path=path,
    )


@cache
def load_manifest(number: str) -> LessonManifest:
    number = number.zfill(2)
    found = sorted(MANIFESTS.glob(f"{number}_*.toml"))
    if not found:
        raise ManifestError(f"No manifest course/{number}_*.toml for lesson {number}.")
    return parse(found[0])


def all_manifests() -> list[LessonManifest]:
    return [load_manifest(path.name[:2]) for path in sorted(MANIFESTS.glob("[0-9][0-9]_*.toml"))]
