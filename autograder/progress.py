"""What a self-learner has done so far: the hint levels already shown, the exercises passed.

Kept in one JSON file, .course-state/progress.json at the course root (AUTOGRADER_STATE_DIR
moves it), so `make hint` and `make watch` remember across runs. Never read by the grader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .paths import COURSE_ROOT


def state_file() -> Path:
    folder = Path(os.environ.get("AUTOGRADER_STATE_DIR") or COURSE_ROOT / ".course-state")
    return folder / "progress.json"


def load() -> dict:
    try:
        data = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return {"hints_shown": {}, "passed": {}}
    data.setdefault("hints_shown", {})
    data.setdefault("passed", {})
    return data


def save(data: dict) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True))
    temporary.replace(path)


def hints_shown(exercise: str) -> int:
    return int(load()["hints_shown"].get(exercise, 0))


def record_hint_shown(exercise: str, level: int) -> None:
    data = load()
    data["hints_shown"][exercise] = max(level, int(data["hints_shown"].get(exercise, 0)))
    save(data)


def forget_hints(exercise: str) -> None:
    data = load()
    data["hints_shown"].pop(exercise, None)
    save(data)


def record_passed(lesson: str, exercises: set[str]) -> None:
    data = load()
    data["passed"][lesson] = sorted(exercises)
    save(data)
