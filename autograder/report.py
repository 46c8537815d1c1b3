"""The report model: one Result per check, a Report per grading run, and its JSON form.

The CLI writes it (``--json``), the notebook glue reads it back: both go through this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

PASS, FAIL, ERROR, SKIP = "PASS", "FAIL", "ERROR", "SKIP"
# What is kept of one field of a result (an app may print 20 MB on one line): the start and
# the end, and how much was cut between them.
FIELD_CHARACTERS = 4000
# Terminal escape sequences (Werkzeug's coloured banner, a coloured log): noise in a report.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def without_colours(value: Any) -> Any:
    """``value`` with terminal colour codes taken out of its text (a string stays a string)."""
    if isinstance(value, str):
        return ANSI_ESCAPE.sub("", value)
    if isinstance(value, list | tuple | dict | set) and "\x1b" in repr(value):
        return ANSI_ESCAPE.sub("", repr(value))
    return value


def bounded(value: Any, limit: int = FIELD_CHARACTERS) -> Any:
    """``value`` itself when it is short, else its text with the middle cut out."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return value
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half:,} characters cut …]\n{text[-half:]}"


@dataclass
class Result:
    exercise: str
    check: str
    title: str
    points: int
    max_points: int
    status: str
    seconds: float
    summary: str = ""
    sent: Any = None
    expected: Any = None
    received: Any = None
    hint: str = ""

    def __post_init__(self) -> None:
        self.bound()

    def bound(self) -> None:
        """Cut every field a student's app can fill to FIELD_CHARACTERS."""
        for name in ("summary", "sent", "expected", "received", "hint"):
            setattr(self, name, bounded(without_colours(getattr(self, name))))


@dataclass
class Report:
    lesson: str
    path: str
    results: list[Result] = field(default_factory=list)
    setup_error: str = ""

    @property
    def score(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> int:
        return sum(r.max_points for r in self.results)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status == PASS for r in self.results)

    def results_for(self, exercise: str) -> list[Result]:
        return [r for r in self.results if r.exercise == exercise]

    def passed_exercises(self) -> set[str]:
        exercises = {r.exercise for r in self.results}
        return {e for e in exercises if all(r.status == PASS for r in self.results_for(e))}

    def to_json(self) -> dict:
        return {
            "lesson": self.lesson,
            "path": self.path,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "setup_error": self.setup_error,
            "results": [asdict(r) for r in self.results],
        }

    def write_json(self, path: str | Path) -> None:
        with open(path, "w") as out:
            json.dump(self.to_json(), out, indent=2, default=repr)

    @classmethod
    def from_json(cls, data: dict) -> Report:
        known = {f.name for f in fields(Result)}
        results = [Result(**{k: v for k, v in r.items() if k in known}) for r in data["results"]]
        return cls(data["lesson"], data["path"], results, data.get("setup_error", ""))

    @classmethod
    def read_json(cls, path: str | Path) -> Report:
        return cls.from_json(json.loads(Path(path).read_text()))
