"""A student's own tests, graded by the bugs they catch (Exercises 2.9 and 3.7).

The exercise's test files (its ``files`` in the manifest, e.g. tests/test_sockets.py) run with
pytest, with the rest of the student's ``tests/`` folder beside them (conftest.py), against the
reference app (solutions/NN), where every test must pass, then against each broken variant of
it (broken_variants.py), where at least one test must fail.

Most of a pytest process's time is Python importing pytest, Flask, Socket.IO and SQLAlchemy
(about 2.5 s without bytecode, against 0.2 s for the tests themselves), so the runs come from
one fork server (fork_server.py), which imports those libraries once and forks a child per run.
The first check of the exercise asks for every run (graded_runs); the others read the results.

Those tests are untrusted code, and to test the reference they run among its files. So every
run of them:
- runs in a child of its own, contained like every graded process and more: its own mount,
  PID, network, IPC and host-name namespaces, a file view built for it alone (the system and
  the course's virtualenvs read-only, its scratch copy and a fresh /tmp writable, no other
  run's copy, no network at all, not even the run's loopback, where the student's app listens),
  no capability, and a cgroup of its own; the server itself runs in the grader's sandbox and
  runs no student code, so nothing of one run survives into another;
- works in a scratch copy of the reference, thrown away with the server's Harness: nothing one
  run writes reaches another run, the rest of the grading or the student;
- is time-limited (settings.STUDENT_TESTS_TIME_LIMIT): when it is over, its PID namespace and
  everything in it is killed;
- is reported by its outcome alone: passed, failed, none collected, timed out. What the tests
  print is never shown, against the reference or a variant: it could carry the reference's
  source. The student runs them on their own app to read it.

Where bubblewrap runs but the server cannot contain its children (not root), each run gets a
pytest process of its own in the sandbox, as before (run_suite). Without bubblewrap nothing is
contained (the grader says so) and the server's children run as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import settings
from .broken_variants import VARIANTS, Variant
from .containment import SYSTEM_PATHS, RunCgroup
from .failures import CheckFailed
from .fork_server import CRASHED as CRASHED_CODE
from .fork_server import NOT_CONTAINED as NOT_CONTAINED_CODE
from .fork_server import TIMED_OUT as TIMED_OUT_CODE
from .harness import Harness
from .paths import COURSE_ROOT, SOLUTIONS, folder_digest, source_files, stage_dir_name
from .waiting import poll_until

TESTS = "tests"  # the student's folder of tests, in the stage folder
RUN_THEM = "python -m pytest tests"  # what the student runs in their stage folder
MAX_FILES = 100  # in the student's tests/ folder
MAX_BYTES = 2 * 1024**2  # all of its files together
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
QUIET_ENV = {
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only pytest itself: no playwright, no timeout
    "PYTEST_ADDOPTS": "",
    "PYTHONDONTWRITEBYTECODE": "1",
}

PASSED, FAILED, NOT_RUN, NOT_FOUND, NO_TESTS, TIMED_OUT, CRASHED = (
    "passed",
    "failed",
    "not run",
    "not found",
    "no tests",
    "timed out",
    "crashed",
)
OUTCOMES = {0: PASSED, 1: FAILED, 2: NOT_RUN, 3: CRASHED, 4: NOT_FOUND, 5: NO_TESTS}
SERVER_OUTCOMES = {**OUTCOMES, TIMED_OUT_CODE: TIMED_OUT, CRASHED_CODE: CRASHED}
REFERENCE = "reference"  # the run id of the unbroken reference app; a variant's is its name
FORK_SERVER = Path(__file__).with_name("fork_server.py")  # run from its text: see there
SERVER_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETPCAP")  # to contain each child; they drop all
# Where the fork server keeps the bytecode of what it imports: only it writes there, never
# a run (a run's file view does not hold it). Without it each server compiles ~1,000 modules.
SERVER_PYCACHE = COURSE_ROOT / ".course-state" / "fork-server-pycache"
RUN_GRACE = 10.0  # seconds past a run's own time limit before the server counts as stuck
# Of the check time limit, for each check of an exercise: the first one run pays for every run
# (the server's start, the reference run, then the variants side by side, each within its own
# STUDENT_TESTS_TIME_LIMIT), the others read what it found.
TIME_SCALE = 2.5
# Imported once by the fork server, before any run: pytest's plugins are imported there too.
# Third-party libraries only (never a module of the app or of the tests), each if installed:
# what the reference apps and their tests import, the lazily imported parts included.
PRELOAD = [
    "flask",
    "flask_login",
    "flask_socketio",
    "flask_sqlalchemy",
    "flask_sqlalchemy.cli",
    "sqlalchemy",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.pool",
    "sqlite3",
    "socketio",
    "engineio",
    "engineio.async_drivers.threading",
    "simple_websocket",
    "werkzeug.test",
    "redis",
    "celery",
    "celery.app.base",
    "celery.app.task",
    "celery.worker",
    "kombu",
    "kombu.connection",
    "kombu.messaging",
    "kombu.transport",
    "kombu.exceptions",
]
# What each outcome means, as the student reads it (pytest's own output is never shown).
SAID = {
    FAILED: "at least one test failed (pytest exit code 1)",
    NOT_RUN: "pytest could not collect or run them (exit code 2): a test file that does not "
    "import, a syntax error, or a stub that still raises NotImplementedError",
    NOT_FOUND: "pytest did not find the test file (exit code 4)",
    NO_TESTS: "pytest found no tests (exit code 5): a test is a function named test_...",
    CRASHED: "pytest itself failed or was killed",
    TIMED_OUT: f"they did not finish within {settings.STUDENT_TESTS_TIME_LIMIT:g} s",
}
NOT_SHOWN = (
    "Their output is not shown: run against the grader's copy of the app, it could show that "
    f"copy's code. Run them on your own app to read it: `{RUN_THEM}` in your stage folder."
)


@dataclass(frozen=True)
class SuiteRun:
    outcome: str
    limits: tuple[str, ...] = ()  # the containment limits the run hit, said for the student

    @property
    def said(self) -> str:
        return "; ".join([SAID.get(self.outcome, self.outcome), *self.limits])


class TestsFolderError(ValueError):
    """The student's tests/ folder is missing or too big; the message says which."""


def reference_dir(lesson: str) -> Path:
    return SOLUTIONS / stage_dir_name(lesson)


def test_files(tests_dir: Path) -> list[Path]:
    """The files of the student's tests/ (relative), checked: regular files only, bounded."""
    if not tests_dir.is_dir():
        raise TestsFolderError(f"there is no {TESTS}/ folder in {tests_dir.parent}")
    files = [p for p in source_files(tests_dir) if not (tests_dir / p).is_symlink()]
    files = [p for p in files if not any((tests_dir / q).is_symlink() for q in p.parents)]
    size = sum((tests_dir / p).stat().st_size for p in files)
    if len(files) > MAX_FILES or size > MAX_BYTES:
        raise TestsFolderError(
            f"{TESTS}/ holds {len(files)} files of {size:,} bytes; at most {MAX_FILES} "
            f"files of {MAX_BYTES:,} bytes together are run"
        )
    return files


def scratch_copy(reference: Path, tests_dir: Path, target: Path) -> None:
    """The reference app without its own tests, with the student's tests/ in their place."""
    for relative in source_files(reference):
        if relative.parts[0] == TESTS:
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference / relative, target / relative)
    for relative in test_files(tests_dir):
        (target / TESTS / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tests_dir / relative, target / TESTS / relative)


def run_suite(
    tests_dir: Path,
    reference: Path,
    test_paths: tuple[str, ...],
    variant: Variant | None = None,
    time_limit: float | None = None,
) -> SuiteRun:
    """Run ``test_paths`` (relative to the stage folder, in the student's tests/) once against
    ``reference``, broken as ``variant`` says, in a pytest process of its own: how each run
    went before the fork server, and still where that server cannot contain its children."""
    time_limit = settings.STUDENT_TESTS_TIME_LIMIT if time_limit is None else time_limit
    with Harness(network=False) as harness:
        scratch = harness.work_dir / "app"
        scratch.mkdir()
        scratch_copy(reference, tests_dir, scratch)
        if variant is not None:
            variant.apply(scratch)
        command = [sys.executable, *PYTEST, "--", *test_paths]
        process = harness.start("student-tests", command, cwd=scratch, env=QUIET_ENV)
        finished = poll_until(lambda: process.exited() is not None, time_limit, 0.05)
        code = process.exited() if finished else None
        limits = tuple(harness.containment.limits_hit())
    if code is None:
        return SuiteRun(TIMED_OUT, limits)
    return SuiteRun(OUTCOMES.get(code, CRASHED), limits)


class NotContained(RuntimeError):
    """The fork server could not contain a run it had contained before: a grader fault."""


class ForkServer:
    """fork_server.py, started in ``harness`` (contained, no network): one interpreter that
    imports pytest and the apps' libraries once, then forks one contained child per run."""

    def __init__(self, harness: Harness):
        self.harness = harness
        self._pending = b""
        sandbox = harness.containment.sandbox
        probe = harness.work_dir / "probe" / "app"
        probe.mkdir(parents=True)
        path = harness.work_dir / "control.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        config = {
            "socket": str(path),
            "preload": PRELOAD,
            "isolate": sandbox is not None,
            "readable": [str(p) for p in sandbox.readable()] if sandbox else [],
            "links": [[os.readlink(p), p] for p in SYSTEM_PATHS if Path(p).is_symlink()],
            "probe": str(probe),
        }
        try:  # the libraries' bytecode, which no one else writes (the .venv may hold none)
            SERVER_PYCACHE.mkdir(parents=True, exist_ok=True)
            cache = ["-X", f"pycache_prefix={SERVER_PYCACHE}"]
        except OSError:
            cache = ["-B"]
        command = [sys.executable, "-I", *cache, "-c", FORK_SERVER.read_text(), json.dumps(config)]
        cwd = SERVER_PYCACHE if cache[0] == "-X" else harness.work_dir  # writable: cwd, work_dir
        self.process = harness.start("student-tests", command, cwd, QUIET_ENV, SERVER_CAPABILITIES)
        deadline = time.monotonic() + settings.APP_START_TIMEOUT
        listener.settimeout(0.1)
        self._control: socket.socket | None = None
        while self._control is None and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                self._control, _ = listener.accept()
            if self.process.exited() is not None:
                break
        listener.close()
        ready = self._receive(deadline) if self._control else None
        self.isolated = bool(ready and ready.get("isolated"))
        self.usable = bool(ready) and (self.isolated or sandbox is None)

    def close(self) -> None:
        """Hang up: the server kills what it still runs and leaves."""
        if self._control is not None:
            self._control.close()
            self._control = None

    def _receive(self, deadline: float) -> dict | None:
        """The next message, or None once the server is gone or ``deadline`` has passed."""
        assert self._control is not None
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._control.settimeout(left)
            try:
                data = self._control.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not data:
                return None
            self._pending += data
        line, self._pending = self._pending.split(b"\n", 1)
        return json.loads(line)

    def _send(self, message: dict) -> None:
        assert self._control is not None
        self._control.sendall(json.dumps(message).encode() + b"\n")

    def run(
        self, apps: dict[str, Path], test_paths: tuple[str, ...], time_limit: float
    ) -> dict[str, SuiteRun]:
        """Run the tests once in each of ``apps`` (run id -> scratch copy), side by side,
        each in a cgroup of its own (when the grader has cgroups)."""
        for run_id, app in apps.items():
            self._send(
                {
                    "run": run_id,
                    "dir": str(app),
                    "paths": list(test_paths),
                    "time_limit": time_limit,
                }
            )
        groups: dict[str, RunCgroup | None] = {}
        results: dict[str, SuiteRun] = {}
        deadline = time.monotonic() + time_limit + RUN_GRACE
        try:
            while len(results) < len(apps):
                message = self._receive(deadline)
                if message is None:
                    break
                if "started" in message:
                    run_id = message["started"]
                    groups[run_id] = self._own_cgroup(int(message["pid"]))
                    self._send({"go": run_id})
                elif "done" in message:
                    run_id, code = message["done"], int(message["code"])
                    group = groups.pop(run_id, None)
                    limits = tuple(group.limits_hit()) if group else ()
                    if group:
                        group.remove()
                    if code == NOT_CONTAINED_CODE:
                        raise NotContained(f"run {run_id} could not be contained")
                    results[run_id] = SuiteRun(SERVER_OUTCOMES.get(code, CRASHED), limits)
        finally:
            for group in groups.values():
                if group:
                    group.remove()
        # Not answered: past the deadline the runs were cut short; before it, the server died.
        cut_short = TIMED_OUT if time.monotonic() >= deadline else CRASHED
        for run_id in apps:
            results.setdefault(run_id, SuiteRun(cut_short))
        return results

    def _own_cgroup(self, pid: int) -> RunCgroup | None:
        """A cgroup for the run whose first process is ``pid``: its limits are its own, and
        its teardown takes whatever it left."""
        if self.harness.containment.cgroup is None:
            return None
        group = RunCgroup.create()
        if group is not None:
            try:
                for folder in dict.fromkeys(group.folders.values()):
                    (folder / "cgroup.procs").write_text(str(pid))
            except OSError:  # it stays in the harness's cgroup, limited with the server
                group.remove()
                return None
        return group


def run_all(
    tests_dir: Path,
    reference: Path,
    test_paths: tuple[str, ...],
    variants: tuple[Variant, ...],
    time_limit: float | None = None,
) -> dict[str, SuiteRun]:
    """The run against the unbroken ``reference`` (id REFERENCE) and, when it passed, one
    run against each variant (id: its name), all from one fork server, the variants side by
    side. Where that server cannot contain its children, each run gets a process of its own."""
    time_limit = settings.STUDENT_TESTS_TIME_LIMIT if time_limit is None else time_limit
    with Harness(network=False) as harness:
        server = ForkServer(harness)
        try:
            if server.usable:
                apps = {}
                for run_id, variant in [(REFERENCE, None), *((v.name, v) for v in variants)]:
                    apps[run_id] = harness.work_dir / run_id / "app"
                    apps[run_id].mkdir(parents=True)
                    scratch_copy(reference, tests_dir, apps[run_id])
                    if variant is not None:
                        variant.apply(apps[run_id])
                runs = server.run({REFERENCE: apps.pop(REFERENCE)}, test_paths, time_limit)
                if runs[REFERENCE].outcome == PASSED and apps:
                    runs.update(server.run(apps, test_paths, time_limit))
                return runs
        finally:
            server.close()
    runs = {REFERENCE: run_suite(tests_dir, reference, test_paths, None, time_limit)}
    if runs[REFERENCE].outcome == PASSED:
        for variant in variants:
            runs[variant.name] = run_suite(tests_dir, reference, test_paths, variant, time_limit)
    return runs


_runs: dict[tuple, dict[str, SuiteRun]] = {}
_runs_lock = threading.Lock()


def graded_runs(tests_dir: Path, lesson: str, test_paths: tuple[str, ...]) -> dict[str, SuiteRun]:
    """Every run an exercise's checks read (run_all), once per content of the student's tests:
    the first of its checks pays for them all."""
    reference = reference_dir(lesson)
    variants = VARIANTS[lesson]
    key = (folder_digest(tests_dir), folder_digest(reference), test_paths, variants)
    with _runs_lock:
        if key not in _runs:
            _runs[key] = run_all(tests_dir, reference, test_paths, variants)
        return _runs[key]


def reference_run(tests_dir: Path, lesson: str, test_paths: tuple[str, ...]) -> SuiteRun:
    """The run against the unbroken reference."""
    return graded_runs(tests_dir, lesson, test_paths)[REFERENCE]


def sent_for(test_paths: tuple[str, ...], against: str) -> str:
    return f"pytest {' '.join(test_paths)} (with the rest of your {TESTS}/), against {against}"


def expect_passes_on_reference(stage_dir: Path, lesson: str, test_paths: tuple[str, ...]) -> None:
    tests_dir = stage_dir / TESTS
    sent = sent_for(test_paths, "the grader's reference app, which is correct")
    try:
        run = reference_run(tests_dir, lesson, test_paths)
    except TestsFolderError as error:
        raise CheckFailed(
            "your tests could not be run",
            sent=sent,
            expected=f"a {TESTS}/ folder of test files next to your app",
            received=str(error),
        ) from None
    if run.outcome != PASSED:
        raise CheckFailed(
            "your tests do not all pass against a correct app",
            sent=sent,
            expected="every test passes: a test that fails on a correct app catches nothing",
            received=f"{run.said}. {NOT_SHOWN}",
        )


def expect_caught(
    stage_dir: Path, lesson: str, test_paths: tuple[str, ...], variant: Variant
) -> None:
    expect_passes_on_reference(stage_dir, lesson, test_paths)
    run = graded_runs(stage_dir / TESTS, lesson, test_paths)[variant.name]
    if run.outcome in (FAILED, NOT_RUN):
        return
    sent = sent_for(test_paths, f"a copy of the reference app with one bug: {variant.behaviour}")
    if run.outcome == PASSED:
        raise CheckFailed(
            f"{variant.behaviour[0].upper()}{variant.behaviour[1:]} went unnoticed",
            sent=sent,
            expected="at least one of your tests fails against it",
            received="every test passed",
        )
    raise CheckFailed(
        f"your tests did not show that they noticed {variant.behaviour}",
        sent=sent,
        expected="at least one of your tests fails against it",
        received=f"{run.said}. {NOT_SHOWN}",
    )


def variant_check(
    lesson: str, test_paths: tuple[str, ...], variant: Variant
) -> Callable[[Any], None]:
    """The check that ``variant`` is caught by ``test_paths``: named tests_catch_<name>."""

    def check(ctx) -> None:
        expect_caught(ctx.stage_dir, lesson, test_paths, variant)

    check.__name__ = check.__qualname__ = f"tests_catch_{variant.name}"
    return check
