"""How each stage starts: one module per lesson, each returning a typed running stack.

A stage module defines ``STAGE = Stage(...)`` with the grader's start and, where people run it
differently (``make run``), a serve start. Every process of a stack belongs to one Scope of the
Harness, so stopping the stack, or a start that fails half-way, needs no rollback by hand.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from ..harness import Harness, ManagedProcess, Scope
from ..queue_listener import QueueListener
from ..services import RedisService


@dataclass
class Stack:
    """A started stage: where to reach it, and the processes it is made of."""

    url: str  # what a browser opens: the app, or nginx in front of it
    stage_dir: Path
    scope: Scope  # owns every process below
    app: ManagedProcess  # the web process whose output a student reads first
    env: dict[str, str] = field(default_factory=dict)  # what the app was started with

    def alive(self) -> bool:
        return self.scope.exited() is None

    def exited(self) -> ManagedProcess | None:
        return self.scope.exited()

    def stop(self) -> None:
        self.scope.stop()


@dataclass
class Instance:
    """One web process of a scaled-out stage."""

    url: str
    process: ManagedProcess


@dataclass
class QueueStack(Stack):
    """A stage with a Redis message queue and a Celery worker (lesson 03 on)."""

    redis: RedisService | None = None
    worker: ManagedProcess | None = None
    # What the worker and the servers publish on the queue (the grader's start only)
    listener: QueueListener | None = None

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        super().stop()


@dataclass
class ProductionStack(QueueStack):
    """Several instances (gunicorn), nginx in front when there is one (lesson 04)."""

    instances: list[Instance] = field(default_factory=list)
    nginx: ManagedProcess | None = None


S = TypeVar("S", bound=Stack)
StartFunction = Callable[[Scope, Path], S]


@dataclass(frozen=True)
class Stage(Generic[S]):
    number: str
    start: StartFunction  # what the grader runs
    serve: StartFunction | None = None  # what `make run` runs, when it differs

    def start_for_people(self) -> StartFunction:
        return self.serve or self.start


def load_stage(number: str) -> Stage:
    module = importlib.import_module(f"{__name__}.lesson{number.zfill(2)}")
    return module.STAGE


def start_stack(harness: Harness, start: StartFunction, stage_dir: Path) -> Stack:
    """Run a stage's start in a fresh scope; if it fails, whatever it started is stopped."""
    scope = harness.scope()
    try:
        return start(scope, stage_dir)
    except BaseException:
        scope.stop()
        raise
