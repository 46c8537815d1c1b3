"""Runs a lesson's checks against a stage folder, one at a time, each contained."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from . import settings
from .apps import RunningApp
from .browser import chromium, page_problems
from .checks import Check, CheckFailed, CheckSkipped, Lesson, load_lesson
from .client import Probe
from .feedback import (
    ERROR,
    FAIL,
    PASS,
    SKIP,
    Report,
    Result,
    details_key,
    print_result,
    print_total,
)
from .harness import Harness, StartError
from .paths import stage_dir_name

CHECK_THREAD_PREFIX = "check "


class Context:
    """What a check gets: the running app, and clients and browsers that clean up after it."""

    def __init__(self, harness: Harness, lesson: Lesson, stage_dir: Path):
        self.harness = harness
        self.lesson = lesson
        self.stage_dir = stage_dir
        self._app: RunningApp | None = None
        self._start_error: str | None = None
        self._probes: list[Probe] = []
        self._browsers = contextlib.ExitStack()
        self._open_browsers: list = []

    # -- the app under test -------------------------------------------------
    def ensure_app(self, out: TextIO) -> None:
        """Start the app if it is not running (first check, or it crashed or hung)."""
        if self._start_error or (self._app and self._app.alive()):
            return
        if self._app is not None:
            self.stop_app()
        print("  starting the app ...", end=" ", file=out, flush=True)
        started = time.monotonic()
        try:
            self._app = self.lesson.start(self.harness, self.stage_dir)
        except StartError as error:
            self._start_error = str(error)
            print("it did not start (see below)", file=out, flush=True)
            return
        print(
            f"ready at {self._app.url} in {time.monotonic() - started:.1f} s", file=out, flush=True
        )

    def stop_app(self) -> None:
        if self._app is not None:
            for handle in self._app.extra.get("processes", []):
                self.harness.stop(handle)
            self.harness.stop(self._app.process)
            self._app = None

    @property
    def app(self) -> RunningApp:
        if self._start_error:
            raise StartError(self._start_error)
        assert self._app is not None
        return self._app

    @property
    def url(self) -> str:
        return self.app.url

    # -- what checks use ----------------------------------------------------
    def client(self, name: str = "client", url: str | None = None, **options) -> Probe:
        probe = Probe(url or self.url, name=name, **options)
        self._probes.append(probe)
        return probe

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


def add_browser_problems(error: CheckFailed, problems: list[str]) -> None:
    new = [problem for problem in problems if problem not in str(error.received)]
    if new:
        shown = "\n".join(new[-5:])
        error.received = f"{error.received}\nThe browser reported:\n{shown}"


def lesson_hint(check: Check, stage_name: str) -> str:
    section = f'lessons/{stage_name}/README.md, section "Exercise {check.exercise}"'
    return f"{check.hint} (read {section})" if check.hint else f"Read {section}."


def run_check(
    ctx: Context, check: Check, stage_name: str, time_limit: float = settings.CHECK_TIME_LIMIT
) -> Result:
    result = Result(
        check.exercise,
        check.run.__name__,
        check.title,
        0,
        check.points,
        PASS,
        0.0,
        hint=lesson_hint(check, stage_name),
    )
    outcome: dict = {}

    def body():
        try:
            check.run(ctx)
        except BaseException as error:  # reported below, whatever it is
            if isinstance(error, CheckFailed):
                add_browser_problems(error, ctx.browser_problems())
            outcome["error"] = error
        finally:
            ctx.close_browsers()

    started = time.monotonic()
    try:
        ctx.app  # noqa: B018 - raises StartError when the app never came up
        worker = threading.Thread(target=body, name=f"{CHECK_THREAD_PREFIX}{check.id}", daemon=True)
        worker.start()
        worker.join(time_limit)
        if worker.is_alive():
            outcome["error"] = CheckFailed(
                f"the check did not finish within {time_limit:g} s",
                expected="every event to be answered promptly",
                received="no progress: the app is probably stuck inside a handler "
                "(an endless loop, a sleep or a blocking call)",
            )
            ctx.stop_app()  # frees the stuck handler; the next check starts a fresh app
    except StartError as error:
        outcome["error"] = CheckFailed(
            "your app did not start, so this check could not run",
            expected="the app to start and answer HTTP",
            received=str(error),
            hint="Start the app yourself (make run) and read the traceback it prints.",
        )
    finally:
        ctx.cleanup_after_check()
    result.seconds = round(time.monotonic() - started, 2)

    error = outcome.get("error")
    if error is None:
        result.points = check.points
    elif isinstance(error, CheckFailed):
        result.status = FAIL
        result.summary = error.summary
        result.sent, result.expected, result.received = error.sent, error.expected, error.received
        if error.hint:
            result.hint = error.hint
    elif isinstance(error, CheckSkipped):
        result.status, result.summary = SKIP, str(error)
    elif isinstance(error, KeyboardInterrupt):
        raise error
    else:
        result.status = ERROR
        result.summary = f"the check itself hit {type(error).__name__}: {error}"
    if ctx._app is not None and not ctx._app.alive():
        result.status = result.status if result.status != PASS else FAIL
        result.points = 0
        result.summary = (result.summary + "\n" if result.summary else "") + (
            f"your app exited while this check ran. Its last output:\n{ctx._app.process.log_tail()}"
        )
    return result


def grade(
    lesson_number: str,
    stage_dir: Path,
    only: set[str] | None = None,
    out: TextIO = sys.stdout,
    time_limit: float = settings.CHECK_TIME_LIMIT,
) -> Report:
    lesson = load_lesson(lesson_number)
    stage_dir = stage_dir.resolve()
    report = Report(lesson=lesson.number, path=str(stage_dir))
    checks = [c for c in lesson.checks if not only or c.exercise in only]
    stage_name = stage_dir_name(lesson.number)
    print(
        f"Grading lesson {lesson.number} in {stage_dir} "
        f"({len(checks)} check{'' if len(checks) == 1 else 's'})",
        file=out,
        flush=True,
    )
    with Harness() as harness:
        ctx = Context(harness, lesson, stage_dir)
        first_seen: dict[tuple, int] = {}
        for position, check in enumerate(checks, start=1):
            ctx.ensure_app(out)
            result = run_check(ctx, check, stage_name, time_limit * check.time_scale)
            report.results.append(result)
            same_as = None
            if result.status != PASS:
                same_as = first_seen.get(details_key(result))
                first_seen.setdefault(details_key(result), position)
            print_result(result, position, len(checks), out, same_as=same_as)
        if ctx._start_error:
            report.setup_error = ctx._start_error
    print_total(report, out)
    return report
