"""Shared fixtures: the course's paths, real grader runs (cached per session), stage copies."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from autograder.browser import CHROMIUM_ARGS, INSTALL_ADVICE, find_chromium
from autograder.harness import port_is_open
from autograder.paths import COURSE_ROOT, LESSONS, SOLUTIONS

# Tests run side by side on a small machine: a process start or a run of a student's tests gets
# more time here than in a student's grading (a test that needs a short limit sets its own).
os.environ.setdefault("AUTOGRADER_APP_START_TIMEOUT", "60")
os.environ.setdefault("AUTOGRADER_STUDENT_TESTS_TIME_LIMIT", "60")

GRADER_TIMEOUT = 240.0  # a whole grading run, far above a healthy one, even beside others
READY_LINE = re.compile(r"ready at (http://127\.0\.0\.1:(\d+))")


def gradable_lessons() -> list[str]:
    """Lesson numbers that have both checks and a reference solution: they join automatically."""
    checks = COURSE_ROOT / "autograder" / "checks"
    numbers = []
    for module in sorted(checks.glob("lesson[0-9][0-9].py")):
        number = module.stem.removeprefix("lesson")
        if any(SOLUTIONS.glob(f"{number}_*")):
            numbers.append(number)
    return numbers


def stage_dir(root: Path, number: str) -> Path:
    return next(p for p in sorted(root.glob(f"{number}_*")) if p.is_dir())


def pytest_generate_tests(metafunc):
    if "gradable_lesson" in metafunc.fixturenames:
        metafunc.parametrize("gradable_lesson", gradable_lessons())


# Session fixtures worth sharing: every test that uses one runs in the same xdist worker.
SHARED_SESSION_FIXTURES = ("graded",)


def xdist_group_of(item) -> str | None:
    """Tests that share an expensive fixture run in one xdist worker, so it is built once:
    a module-scoped fixture (per parameter, e.g. one nbgrader course per stage) or one of
    SHARED_SESSION_FIXTURES. Other tests spread over the workers one by one."""
    definitions = item._fixtureinfo.name2fixturedefs
    params = getattr(getattr(item, "callspec", None), "params", {})
    parts = []
    for name, fixturedefs in sorted(definitions.items()):
        if name in SHARED_SESSION_FIXTURES and fixturedefs[-1].scope == "session":
            parts.append(name)
        elif fixturedefs[-1].scope == "module":
            parts.append(f"{item.module.__name__}:{name}={params.get(name, '')}")
    return "+".join(parts) or None


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):  # -p no:xdist: no groups to keep
        return
    for item in items:
        if group := xdist_group_of(item):
            item.add_marker(pytest.mark.xdist_group(group))
            in_group_id(item, group)


def in_group_id(item, group: str) -> None:
    """Give the item the node id `id@group` that --dist loadgroup schedules by.

    pytest-xdist 3.8 sets it through `item._nodeid`, which pytest 9 no longer reads (the id is
    `item._id`), so every test became its own unit and each worker built the module fixtures
    again (measured: every nbgrader course, 50-410 s, built twice)."""
    if "@" in item.nodeid.rpartition("]")[2] or not hasattr(item, "_id"):
        return  # xdist did it, or a pytest that still reads _nodeid
    from _pytest.nodeid import coerce_node_id

    item._id = coerce_node_id(f"{item.nodeid}@{group}")


@dataclass
class GradeRun:
    """One real `python -m autograder` run: exit code, output lines with arrival times, report."""

    returncode: int
    lines: list[tuple[float, str]]  # (seconds since start, line)
    stderr: str
    report: dict | None
    seconds: float
    pid: int
    ports: list[int] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "\n".join(line for _, line in self.lines)

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr


def grader_command(number: str, path: Path, json_path: Path | None, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "autograder", number, str(path)]
    if json_path is not None:
        command += ["--json", str(json_path)]
    return [*command, *extra]


def grader_env(**overrides: str) -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **overrides}


def run_grader(
    number: str,
    path: Path,
    json_path: Path | None = None,
    *extra: str,
    env: dict | None = None,
    timeout: float = GRADER_TIMEOUT,
) -> GradeRun:
    """Run the real CLI as a subprocess, timing each line of its output as it arrives."""
    started = time.monotonic()
    process = subprocess.Popen(
        grader_command(number, path, json_path, *extra),
        cwd=COURSE_ROOT,
        env=grader_env(**(env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[tuple[float, str]] = []
    stderr: list[str] = []
    readers = [
        threading.Thread(
            target=lambda: [
                lines.append((time.monotonic() - started, line.rstrip("\n")))
                for line in process.stdout
            ]
        ),
        threading.Thread(target=lambda: stderr.append(process.stderr.read())),
    ]
    for reader in readers:
        reader.start()
    try:
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the grader did not finish within {timeout:.0f} s")
    for reader in readers:
        reader.join(timeout=10)
    report = None
    if json_path is not None and json_path.is_file():
        report = json.loads(json_path.read_text())
    run = GradeRun(
        returncode, lines, "".join(stderr), report, time.monotonic() - started, process.pid
    )
    run.ports = [int(m.group(2)) for _, line in lines if (m := READY_LINE.search(line))]
    return run


@pytest.fixture(scope="session")
def course_root() -> Path:
    return COURSE_ROOT


@pytest.fixture(scope="session")
def grader():
    """run_grader(number, path, json_path, *flags, env={...}): the real CLI as a subprocess."""
    return run_grader


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded(number, "solution" | "starter") -> GradeRun, each graded once per session.

    The first call starts every lesson's gradings at once: the starters' runs mostly wait
    for timeouts, so running them side by side saves most of their time."""
    runs: dict[tuple[str, str], Future] = {}
    side_by_side = 2 if os.environ.get("PYTEST_XDIST_WORKER") else 4  # other workers run too
    pool = ThreadPoolExecutor(max_workers=side_by_side, thread_name_prefix="grading")

    def start(number: str, which: str) -> Future:
        root = {"solution": SOLUTIONS, "starter": LESSONS}[which]
        folder = tmp_path_factory.mktemp(f"report-{number}-{which}")
        return pool.submit(run_grader, number, stage_dir(root, number), folder / "report.json")

    def grade(number: str, which: str) -> GradeRun:
        if not runs:
            for lesson in gradable_lessons():
                for kind in ("starter", "solution"):
                    runs[lesson, kind] = start(lesson, kind)
        if (number, which) not in runs:
            runs[number, which] = start(number, which)
        return runs[number, which].result()

    yield grade
    pool.shutdown(wait=True)


@pytest.fixture
def stage_copy(tmp_path):
    """stage_copy(number, "solution" | "starter") -> a private copy of that stage folder."""

    def copy(number: str, which: str = "solution") -> Path:
        root = {"solution": SOLUTIONS, "starter": LESSONS}[which]
        source = stage_dir(root, number)
        target = tmp_path / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return target

    return copy


# -- processes and ports ----------------------------------------------------------------


def processes_referring_to(folder: Path) -> list[psutil.Process]:
    """Live processes whose command line or working directory mentions ``folder``."""
    needle = str(folder)
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        if needle in cmdline or needle in (info["cwd"] or ""):
            found.append(process)
    return found


def port_is_listening(port: int) -> bool:
    return port_is_open(port)


def wait_for(condition, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@pytest.fixture(scope="session")
def leftovers():
    """Helpers to prove nothing was left running: processes and ports."""

    class Leftovers:
        processes = staticmethod(processes_referring_to)
        listening = staticmethod(port_is_listening)
        wait_for = staticmethod(wait_for)

        @staticmethod
        def assert_none(folder: Path, ports: list[int] = (), grace: float = 5.0) -> None:
            clean = wait_for(
                lambda: (
                    not processes_referring_to(folder)
                    and not any(port_is_listening(p) for p in ports)
                ),
                grace,
            )
            if not clean:
                alive = processes_referring_to(folder)
                for process in alive:  # tidy up so one failure does not poison the next test
                    with contextlib.suppress(psutil.Error):
                        process.send_signal(signal.SIGKILL)
                open_ports = [p for p in ports if port_is_listening(p)]
                pytest.fail(
                    f"left behind: processes {[(p.pid, p.info['cmdline']) for p in alive]}, "
                    f"listening ports {open_ports}"
                )

    return Leftovers


# -- the browser -------------------------------------------------------------------------


def chromium_or_skip() -> Path:
    """Chromium's path; without it, fail in CI (it must run there) and skip elsewhere."""
    executable = find_chromium()
    if executable is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI must run the browser tests. {INSTALL_ADVICE}")
        pytest.skip(INSTALL_ADVICE)
    return executable


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    return chromium_or_skip()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options: Debian's Chromium with the course's offline flags."""
    return {
        **browser_type_launch_args,
        "executable_path": str(chromium_or_skip()),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


# -- nbgrader courses ---------------------------------------------------------------------

NBGRADER_COMMAND_TIMEOUT = 120.0  # generate, feedback, export


@dataclass
class NbgraderCourse:
    """A private copy of notebooks/ for one lesson, driven with nbgrader's real CLI."""

    root: Path
    stage: str
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def nbgrader(self, *args: str, timeout: float = NBGRADER_COMMAND_TIMEOUT) -> str:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.seconds[args[0]] = round(time.monotonic() - started, 1)
        output = done.stdout + done.stderr
        self.outputs[args[0]] = output
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{output[-4000:]}"
        assert "[ERROR]" not in output and "| ERROR]" not in output, output[-4000:]
        return output

    def notebook(self, folder: str, student: str | None = None) -> Path:
        parts = [folder, student] if student else [folder]
        return self.root.joinpath(*parts, self.stage, f"{self.stage}.ipynb")

    def submit(self, student: str, notebook: Path) -> Path:
        submission = self.notebook("submitted", student)
        submission.parent.mkdir(parents=True)
        shutil.copy(notebook, submission)
        return submission


@pytest.fixture(scope="session")
def new_nbgrader_course():
    """new_nbgrader_course(root, stage): notebooks/ for ``stage`` copied to ``root`` as if the
    instructor had run the source notebook (its app/ holds the solution), then released."""
    from autograder.authoring.make_notebooks import APP_FOLDER
    from autograder.paths import NOTEBOOKS, source_files

    def make(root: Path, stage: str) -> NbgraderCourse:
        shutil.copy(NOTEBOOKS / "nbgrader_config.py", root)
        shutil.copytree(NOTEBOOKS / "source" / stage, root / "source" / stage)
        for relative in source_files(SOLUTIONS / stage):
            target = root / "source" / stage / APP_FOLDER / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SOLUTIONS / stage / relative, target)
        course = NbgraderCourse(root, stage)
        course.nbgrader("generate_assignment", stage, "--force")
        return course

    return make
