"""autograder/containment.py on this machine: what a contained process sees, the run's cgroup,
and the one line the grader prints when it cannot contain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.containment import Containment, RunCgroup, find_sandbox
from autograder.harness import Harness
from autograder.paths import COURSE_ROOT, SOLUTIONS

needs_sandbox = pytest.mark.skipif(find_sandbox() is None, reason="bubblewrap cannot run here")


def run_contained(harness: Harness, code: str, folder: Path) -> str:
    process = harness.start("probe", [sys.executable, "-c", code], folder)
    process.popen.wait(timeout=30)
    return process.log_tail(50)


@needs_sandbox
def test_a_contained_process_sees_its_folder_and_the_software_only(tmp_path):
    (tmp_path / "mine.txt").write_text("mine")
    code = (
        "import os, pathlib\n"
        "def look(p):\n"
        "    try:\n"
        "        return 'read' if pathlib.Path(p).read_text() else 'empty'\n"
        "    except OSError as error:\n"
        "        return type(error).__name__\n"
        f"print('own', look({str(tmp_path / 'mine.txt')!r}))\n"
        f"print('solution', look({str(SOLUTIONS / '01_basics' / 'app.py')!r}))\n"
        f"print('grader', look({str(COURSE_ROOT / 'autograder' / 'runner.py')!r}))\n"
        "print('home', look('/root/.bashrc'))\n"
        "import flask\n"
        "print('flask', flask.__name__)\n"
        "try:\n"
        f"    open({str(COURSE_ROOT / 'README.md')!r}, 'a')\n"
        "    print('write', 'allowed')\n"
        "except OSError as error:\n"
        "    print('write', type(error).__name__)\n"
    )
    with Harness() as harness:
        shown = run_contained(harness, code, tmp_path)
    assert "own read" in shown
    assert "solution FileNotFoundError" in shown
    assert "grader FileNotFoundError" in shown
    assert "home FileNotFoundError" in shown
    assert "flask flask" in shown, "the course's virtualenv is there, read-only"
    assert "write allowed" not in shown


def test_a_run_cgroup_is_gone_after_the_run():
    group = RunCgroup.create()
    if group is None:
        pytest.skip("this machine gives no writable cgroup")
    folders = list(group.folders.values())
    assert all(folder.is_dir() for folder in folders)
    group.remove()
    assert not any(folder.exists() for folder in folders)


def grade(*env_changes: tuple[str, str], path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **dict(env_changes)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "autograder", "01", "--solution", "--only", "1.3"],
        cwd=COURSE_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_bubblewrap_the_grader_says_so_once_and_grades(tmp_path):
    done = grade(path=str(tmp_path))  # nothing on PATH: no bwrap
    assert done.returncode == 0, done.stdout + done.stderr
    notices = [line for line in done.stdout.splitlines() if "Containment" in line]
    assert len(notices) == 1 and "no bubblewrap" in notices[0], done.stdout


def test_containment_can_be_switched_off_for_a_benchmark():
    done = grade(("AUTOGRADER_CONTAIN", "0"))
    assert done.returncode == 0
    assert "Containment is off" in done.stdout


@needs_sandbox
def test_a_complete_containment_prints_nothing():
    containment = Containment.for_run()
    try:
        if not containment.complete:
            pytest.skip("no writable cgroup here")
        assert containment.notice() is None
        done = grade()
        assert "Containment" not in done.stdout
    finally:
        containment.close()
