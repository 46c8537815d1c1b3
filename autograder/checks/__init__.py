"""What a check is, and the registry each lesson's module fills.

A check is one behaviour of one exercise. It raises CheckFailed with what it sent, what it
expected and what came back; anything else it raises is reported as an error. Its points, and
the order checks run in, come from the lesson's manifest (course/NN_name.toml).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..failures import CheckFailed, CheckSkipped
from ..manifest import LessonManifest, ManifestError, load_manifest

__all__ = ["Check", "CheckFailed", "CheckSet", "CheckSkipped", "load_checks"]


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
    # The check drives only processes it starts itself (it may read the shared stack's
    # addresses, never change it or count what other checks do there), so the runner may run
    # it in the side lane, beside the checks on the shared stack.
    own_processes: bool = False

    @property
    def name(self) -> str:
        return self.run.__name__

    @property
    def id(self) -> str:
        return f"{self.exercise}:{self.name}"


@dataclass(frozen=True)
class _Registered:
    exercise: str
    title: str
    run: Callable[[Any], None]
    hint: str
    browser: bool
    time_scale: float
    own_processes: bool


class CheckSet:
    """One lesson's checks: ``CHECKS = CheckSet("01")`` and ``@CHECKS.check("1.1", "...")``."""

    def __init__(self, number: str):
        self.number = number
        self._registered: list[_Registered] = []

    def check(
        self,
        exercise: str,
        title: str,
        hint: str = "",
        browser: bool = False,
        time_scale: float = 1.0,
        own_processes: bool = False,
    ):
        def register(function):
            self._registered.append(
                _Registered(exercise, title, function, hint, browser, time_scale, own_processes)
            )
            return function

        return register

    @cached_property
    def manifest(self) -> LessonManifest:
        return load_manifest(self.number)

    @cached_property
    def checks(self) -> list[Check]:
        """In the manifest's order, with the manifest's points; the two must list the same."""
        by_name = {r.run.__name__: r for r in self._registered}
        listed = {name: e.id for e in self.manifest.exercises for name in e.check_names}
        where = self.manifest.path.name
        for name, registered in by_name.items():
            if listed.get(name) != registered.exercise:
                raise ManifestError(
                    f"{where} does not list check {name!r} under exercise {registered.exercise}"
                )
        missing = sorted(set(listed) - set(by_name))
        if missing:
            raise ManifestError(f"{where} lists checks that do not exist: {missing}")
        return [
            Check(
                r.exercise, r.title, points, r.run, r.hint, r.browser, r.time_scale, r.own_processes
            )
            for exercise in self.manifest.exercises
            for name, points in exercise.checks
            for r in [by_name[name]]
        ]

    def for_exercise(self, exercise: str) -> list[Check]:
        return [c for c in self.checks if c.exercise == exercise]


def load_checks(number: str) -> CheckSet:
    module = importlib.import_module(f"{__name__}.lesson{number.zfill(2)}")
    return module.CHECKS
