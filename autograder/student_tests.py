"""A student's own tests, graded by the bugs they catch (Exercises 2.9 and 3.7).

The exercise's test files (its ``files`` in the manifest, e.g. tests/test_sockets.py) run with
pytest, with the rest of the student's ``tests/`` folder beside them (conftest.py), against the
reference app (solutions/NN), where every test must pass, then against each broken variant of
it (broken_variants.py), where at least one test must fail.

Those tests are untrusted code, and to test the reference they run among its files. So every
run of them:
- goes through a Harness of its own, contained like every graded process (containment.py: a
  file view of its own, a cgroup), and with no network at all, not even the run's loopback,
  where the student's app listens;
- works in a scratch copy of the reference, which goes with that Harness: nothing one run
  writes reaches another run, the rest of the grading or the student;
- is time-limited (settings.STUDENT_TESTS_TIME_LIMIT);
- is reported by its outcome alone: passed, failed, none collected, timed out. What the tests
  print is never shown, against the reference or a variant: it could carry the reference's
  source. The student runs them on their own app to read it.
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import settings
from .broken_variants import Variant
from .failures import CheckFailed
from .harness import Harness
from .paths import SOLUTIONS, folder_digest, source_files, stage_dir_name
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
    ``reference``, broken as ``variant`` says."""
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


_reference_runs: dict[tuple, SuiteRun] = {}
_reference_lock = threading.Lock()


def reference_run(tests_dir: Path, lesson: str, test_paths: tuple[str, ...]) -> SuiteRun:
    """The run against the unbroken reference, once per content of the student's tests."""
    reference = reference_dir(lesson)
    key = (folder_digest(tests_dir), folder_digest(reference), test_paths)
    with _reference_lock:
        if key not in _reference_runs:
            _reference_runs[key] = run_suite(tests_dir, reference, test_paths)
        return _reference_runs[key]


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
    run = run_suite(stage_dir / TESTS, reference_dir(lesson), test_paths, variant)
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
