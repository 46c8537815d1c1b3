"""What a check is given: the running stack, and clients, browsers and side processes that are
cleaned up when the check ends."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import Generic, TextIO

from .browser import chromium, page_problems
from .client import Probe
from .harness import Harness, Scope, StartError
from .stages import S, Stage, start_stack


class StageRun(Generic[S]):
    """The stage under test, started once for a grading run and shared by its checks (those
    of the side lane too): restarted only when it crashed or a check hung in it."""

    def __init__(self, harness: Harness, stage: Stage[S], stage_dir: Path):
        self.harness = harness
        self.stage = stage
        self.stage_dir = stage_dir
        self._stack: S | None = None
        self.start_error: str | None = None
        self._lock = threading.Lock()

    def ensure_started(self, out: TextIO) -> None:
        """Start the stage unless it runs (first check, or it crashed or hung before)."""
        with self._lock:
            if self.start_error or (self._stack and self._stack.alive()):
                return
            self.stop()
            print("  starting the app ...", end=" ", file=out, flush=True)
            started = time.monotonic()
            try:
                self._stack = start_stack(self.harness, self.stage.start, self.stage_dir)
            except StartError as error:
                self.start_error = str(error)
                print("it did not start (see below)", file=out, flush=True)
                return
            took = time.monotonic() - started
            print(f"ready at {self._stack.url} in {took:.1f} s", file=out, flush=True)

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.stop()
            self._stack = None

    @property
    def started(self) -> S | None:
        """The stack, if it was started (None before the first start and after a stop)."""
        return self._stack

    @property
    def stack(self) -> S:
        if self.start_error:
            raise StartError(self.start_error)
        assert self._stack is not None, "the stage was not started"
        return self._stack


class CheckContext(Generic[S]):
    """One lane's view of the run: the shared stage, and what its current check opened."""

    def __init__(self, run: StageRun[S]):
        self.run = run
        self.harness = run.harness
        self.stage = run.stage
        self.stage_dir = run.stage_dir
        self._probes: list[Probe] = []
        self._side: Scope | None = None
        self._browsers = contextlib.ExitStack()
        self._open_browsers: list = []

    # -- the stage under test ---------------------------------------------------------
    def stop_stack(self) -> None:
        self.run.stop()

    @property
    def start_error(self) -> str | None:
        return self.run.start_error

    @property
    def started(self) -> S | None:
        return self.run.started

    @property
    def stack(self) -> S:
        return self.run.stack

    @property
    def url(self) -> str:
        return self.stack.url

    # -- what checks use ----------------------------------------------------------------
    def client(self, name: str = "client", url: str | None = None, **options) -> Probe:
        """A python-socketio client (not yet connected), disconnected when the check ends."""
        probe = Probe(url or self.url, name=name, **options)
        self._probes.append(probe)
        return probe

    def side_processes(self) -> Scope:
        """Where a check starts processes of its own (a second server, a broken config):
        all of them are stopped when the check ends."""
        if self._side is None:
            self._side = self.harness.scope()
        return self._side

    def browser(self):
        """A fresh headless Chromium, closed when the check ends (CheckSkipped without one)."""
        browser = self._browsers.enter_context(chromium())
        self._open_browsers.append(browser)
        return browser

    def browser_problems(self) -> list[str]:
        """Uncaught errors and console errors of every page the check opened."""
        problems = []
        for browser in self._open_browsers:
            with contextlib.suppress(Exception):
                problems.extend(page_problems(browser))
        return problems

    def close_browsers(self) -> None:
        # Playwright objects belong to the thread that made them: the check's own thread.
        self._open_browsers.clear()
        with contextlib.suppress(Exception):
            self._browsers.close()
        self._browsers = contextlib.ExitStack()

    def cleanup_after_check(self) -> None:
        for probe in self._probes:
            with contextlib.suppress(Exception):
                probe.disconnect()
        self._probes.clear()
        if self._side is not None:
            self._side.stop()
            self._side = None
