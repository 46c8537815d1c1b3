"""Runs a lesson's checks against a stage folder, one at a time, each contained."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

import psutil

from . import settings
from .checks import Check, CheckSet, load_checks
from .context import CheckContext, StageRun
from .failures import CheckFailed, CheckSkipped, StartError
from .feedback import details_key, print_result, print_total
from .harness import Harness
from .paths import stage_dir_name
from .report import ERROR, FAIL, PASS, SKIP, Report, Result
from .stages import load_stage

CHECK_THREAD_PREFIX = "check "
# How long a check may still take to fail on its own once the app has exited: its own failure
# is usually more precise than "your app exited".
EXITED_GRACE = 0.5
JOIN_STEP = 0.1


def _first_lines(error: BaseException, lines: int = 3) -> str:
    """An exception's message without Playwright's long call log."""
    text = str(error).strip()
    kept = [line.strip() for line in text.splitlines() if line.strip()][:lines]
    return " / ".join(kept) or type(error).__name__


def student_failure(error: BaseException, check: Check) -> CheckFailed | None:
    """The failure a timeout or a refused or broken connection means: the app did not do what
    the check asked, in time. None for an exception that is the grader's own defect."""
    kind = type(error)
    module = kind.__module__ or ""
    name = kind.__name__
    doing = f"the steps of this check: {check.title}"
    said = _first_lines(error)
    if module.startswith("playwright"):
        if "Timeout" in name or "Timeout" in said:
            return CheckFailed(
                "the page never got to the state the check waits for",
                sent=f"in Chromium, {doing}",
                expected="the page to show it within the time limit",
                received=f"the browser gave up waiting: {said}. Is the element there, and does "
                "your JavaScript fill it? (open the page yourself, with the browser's console)",
            )
        return CheckFailed(
            "the browser could not do what the check asked of the page",
            sent=f"in Chromium, {doing}",
            expected="the page to load and to work",
            received=said,
        )
    if module.startswith(("requests", "urllib3")):
        timeout = "Timeout" in name
        return CheckFailed(
            "the app did not answer an HTTP request" + (" in time" if timeout else ""),
            sent=doing,
            expected="an HTTP answer within a few seconds",
            received=f"{name}: {said}. Is the app busy or stuck in a handler (a blocking call, "
            "a sleep, an endless loop), or did it stop?",
        )
    if module.startswith(("socketio", "engineio")):
        if name == "BadNamespaceError":
            received = f"{said}: the server ended this client's connection to the namespace"
        elif name == "TimeoutError":
            received = f"no answer in time ({said}): is the handler there, and is it stuck?"
        else:
            received = f"{name}: {said}"
        return CheckFailed(
            "a Socket.IO client of the check lost its connection or its answer",
            sent=doing,
            expected="the connection to stay open and every event to be answered",
            received=received,
        )
    if isinstance(error, StartError):
        return CheckFailed(
            "a process this check started from your app did not come up",
            sent=doing,
            expected="it to start and answer, like the first one did",
            received=str(error),
        )
    if isinstance(error, TimeoutError | ConnectionError):
        return CheckFailed(
            "the app did not answer in time, or closed the connection",
            sent=doing,
            expected="an answer within a few seconds",
            received=f"{name}: {said}",
        )
    return None


def in_a_notebook(stage_dir: Path) -> bool:
    """Whether the stage folder is one a notebook wrote (a workbook sits next to it)."""
    return any(stage_dir.parent.glob("*.ipynb"))


def start_hint(stage_dir: Path) -> str:
    if in_a_notebook(stage_dir):
        return (
            "Read the app's last output above (received): it names the file and line that "
            "failed. Fix that cell, run it again, then run this test cell again."
        )
    return "Start the app yourself (make run) and read the traceback it prints."


def add_browser_problems(error: CheckFailed, problems: list[str]) -> None:
    new = [problem for problem in problems if problem not in str(error.received)]
    if new:
        shown = "\n".join(new[-5:])
        error.received = f"{error.received}\nThe browser reported:\n{shown}"


def lesson_hint(check: Check, stage_name: str, hint: str | None = None) -> str:
    """``hint`` (a failure's own, else the check's) and the lesson section to read."""
    hint = hint or check.hint
    section = f'lessons/{stage_name}/README.md, section "Exercise {check.exercise}"'
    return f"{hint} (read {section})" if hint else f"Read {section}."


def run_check(
    ctx: CheckContext,
    check: Check,
    stage_name: str,
    time_limit: float = settings.CHECK_TIME_LIMIT,
) -> Result:
    result = Result(
        check.exercise,
        check.name,
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
            failure = error if isinstance(error, CheckFailed) else student_failure(error, check)
            if failure is not None:
                add_browser_problems(failure, ctx.browser_problems())
            outcome["error"] = failure or error
        finally:
            ctx.close_browsers()

    started = time.monotonic()
    try:
        ctx.stack  # noqa: B018 - raises StartError when the app never came up
        worker = threading.Thread(target=body, name=f"{CHECK_THREAD_PREFIX}{check.id}", daemon=True)
        worker.start()
        deadline = started + time_limit
        gone_since = None
        while worker.is_alive() and time.monotonic() < deadline:
            worker.join(JOIN_STEP)
            # Fail fast: once the app has exited, waiting longer cannot change the outcome.
            stack = ctx.started
            if stack is not None and stack.exited() is not None:
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since > EXITED_GRACE:
                    outcome.setdefault(
                        "error",
                        CheckFailed(
                            "",  # the summary below says that it exited, with its output
                            sent=f"the steps of this check: {check.title}",
                            expected="the app to keep running and answer",
                            received="no answer: the app had exited, so the check stopped "
                            "waiting (its last output is above)",
                        ),
                    )
                    break
        if worker.is_alive() and "error" not in outcome:
            outcome["error"] = CheckFailed(
                f"the check did not finish within {time_limit:g} s",
                sent=f"the steps of this check: {check.title}",
                expected="every event to be answered promptly",
                received="no progress: the app is probably stuck inside a handler "
                "(an endless loop, a sleep or a blocking call)",
            )
            if not check.own_processes:  # its own processes are stopped below, in any case
                ctx.stop_stack()  # frees the stuck handler; the next check starts a fresh app
    except StartError as error:
        outcome["error"] = CheckFailed(
            "your app did not start, so this check could not run",
            sent=f"start the app in {ctx.stage_dir.name}, then: {check.title}",
            expected="the app to start and answer HTTP",
            received=str(error),
            hint=start_hint(ctx.stage_dir),
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
            result.hint = lesson_hint(check, stage_name, error.hint)
    elif isinstance(error, CheckSkipped):
        result.status, result.summary = SKIP, str(error)
    elif isinstance(error, KeyboardInterrupt):
        raise error
    else:
        result.status = ERROR
        result.summary = f"the check itself hit {type(error).__name__}: {error}"
    for limit in ctx.harness.containment.limits_hit():
        result.status = result.status if result.status != PASS else FAIL
        result.points = 0
        result.summary = (result.summary + "\n" if result.summary else "") + limit
    stack = ctx.started
    gone = stack.exited() if stack is not None else None
    if gone is not None:
        result.status = result.status if result.status != PASS else FAIL
        result.points = 0
        what = "your app" if gone is stack.app else f"{gone.name} (part of your app's stack)"
        result.summary = (result.summary + "\n" if result.summary else "") + (
            f"{what} exited while this check ran. Its last output:\n{gone.log_tail()}"
        )
    result.bound()
    return result


class InOrder:
    """Prints results in the order of the checks, as soon as each one's turn comes: the side
    lane's results wait for the checks listed before them."""

    def __init__(self, total: int, out: TextIO):
        self.total, self.out = total, out
        self.results: dict[int, Result] = {}
        self.printed = 0
        self.first_seen: dict[tuple, int] = {}
        self._lock = threading.Lock()

    def add(self, position: int, result: Result) -> None:
        with self._lock:
            self.results[position] = result
            while self.printed + 1 in self.results:
                self.printed += 1
                self._print(self.printed, self.results[self.printed])

    def _print(self, position: int, result: Result) -> None:
        same_as = None
        if result.status != PASS:
            same_as = self.first_seen.get(details_key(result))
            self.first_seen.setdefault(details_key(result), position)
        print_result(result, position, self.total, self.out, same_as=same_as)

    def in_order(self) -> list[Result]:
        return [self.results[position] for position in sorted(self.results)]


def run_lane(
    run: StageRun,
    checks: list[tuple[int, Check]],
    stage_name: str,
    time_limit: float,
    printer: InOrder,
    out: TextIO,
) -> None:
    ctx = CheckContext(run)
    for position, check in checks:
        run.ensure_started(out)
        printer.add(position, run_check(ctx, check, stage_name, time_limit * check.time_scale))


def grade(
    lesson_number: str,
    stage_dir: Path,
    only: set[str] | None = None,
    out: TextIO = sys.stdout,
    time_limit: float = settings.CHECK_TIME_LIMIT,
    checks: set[str] | None = None,
) -> Report:
    """Grade ``stage_dir`` with the lesson's checks (of the exercises in ``only``, or just the
    ``checks`` named), and print as it goes. The checks on the shared stack run one at a time;
    those that drive only their own processes run in a side lane beside them."""
    check_set: CheckSet = load_checks(lesson_number)
    stage = load_stage(lesson_number)
    stage_dir = stage_dir.resolve()
    report = Report(lesson=check_set.number, path=str(stage_dir))
    chosen = [
        c
        for c in check_set.checks
        if (not only or c.exercise in only) and (not checks or c.name in checks)
    ]
    stage_name = stage_dir_name(check_set.number)
    print(
        f"Grading lesson {check_set.number} in {stage_dir} "
        f"({len(chosen)} check{'' if len(chosen) == 1 else 's'})",
        file=out,
        flush=True,
    )
    numbered = list(enumerate(chosen, start=1))
    shared = [(n, c) for n, c in numbered if not c.own_processes]
    side = [(n, c) for n, c in numbered if c.own_processes]
    printer = InOrder(len(chosen), out)
    with Harness() as harness:
        notice = harness.containment.notice()
        if notice:
            print(f"  {notice}", file=out, flush=True)
        run = StageRun(harness, stage, stage_dir)
        run.ensure_started(out)
        lane = threading.Thread(
            target=run_lane,
            args=(run, side, stage_name, time_limit, printer, out),
            name="side lane",
            daemon=True,
        )
        lane.start()
        run_lane(run, shared, stage_name, time_limit, printer, out)
        lane.join()
        report.results = printer.in_order()
        if run.start_error:
            report.setup_error = run.start_error
    print_total(report, out)
    return report


def exit_process(code: int) -> None:
    """Leave the program. A check that overran its time limit (or was interrupted) may still
    be running in its daemon thread, possibly inside Playwright, and the interpreter's shutdown
    crashes under it (SIGSEGV). Every process the grader started is already stopped by now, so
    such a run leaves without that shutdown."""
    lingering = [t for t in threading.enumerate() if t.name.startswith(CHECK_THREAD_PREFIX)]
    if not lingering:
        sys.exit(code)
    for child in psutil.Process().children(recursive=True):  # a browser the check left open
        with contextlib.suppress(psutil.Error):
            child.kill()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
