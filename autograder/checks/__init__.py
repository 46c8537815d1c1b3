"""What a check is, and the registry the lesson modules fill.

A check is one behaviour of one exercise. It raises CheckFailed with what it sent,
what it expected and what came back; anything else it raises is reported as an error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class CheckFailed(AssertionError):
    def __init__(
        self,
        summary: str,
        *,
        sent: Any = None,
        expected: Any = None,
        received: Any = None,
        hint: str | None = None,
    ):
        super().__init__(summary)
        self.summary = summary
        self.sent = sent
        self.expected = expected
        self.received = received
        self.hint = hint


class CheckSkipped(Exception):
    """The check could not run here (e.g. no browser); the message says what to install."""


@dataclass(frozen=True)
class Check:
    exercise: str
    title: str
    points: int
    run: Callable[[Any], None]
    hint: str
    browser: bool = False
    # A check that does much more work than the others (200 connections) gets a multiple of
    # the run's time limit rather than its own absolute number.
    time_scale: float = 1.0

    @property
    def id(self) -> str:
        return f"{self.exercise}:{self.run.__name__}"


@dataclass
class Lesson:
    """A stage's grading definition, built by its module under autograder/checks/."""

    number: str
    exercises: dict[str, str]  # exercise id -> short title
    start: Callable[[Any, Any], Any]  # (harness, stage_dir) -> running app
    checks: list[Check] = field(default_factory=list)
    # `make run`'s start, when it differs from the grader's (e.g. an existing Redis at
    # REDIS_URL, slower tasks); None means `start`.
    serve: Callable[[Any, Any], Any] | None = None

    def check(
        self,
        exercise: str,
        title: str,
        points: int = 1,
        hint: str = "",
        browser: bool = False,
        time_scale: float = 1.0,
    ):
        if exercise not in self.exercises:
            raise ValueError(f"unknown exercise {exercise} in lesson {self.number}")

        def register(function):
            self.checks.append(Check(exercise, title, points, function, hint, browser, time_scale))
            return function

        return register


def load_lesson(number: str) -> Lesson:
    module = importlib.import_module(f"autograder.checks.lesson{number.zfill(2)}")
    return module.LESSON
