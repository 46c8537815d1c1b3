"""Hostile apps graded through the real CLI (`python -m autograder`): each gets zero for the
checks it targets, nothing it starts outlives the run, and nothing outside its folder changes.

Every case is lesson 01's starter (or solution) with a few lines added at the top of app.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import psutil
import pytest

from autograder.containment import find_sandbox
from autograder.paths import COURSE_ROOT, SOLUTIONS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_sandbox() is None, reason="bubblewrap cannot run here"),
]
# In the command line of every process a case starts itself; one per test, since under xdist a
# sibling test's deliberate daemon may be alive on the other worker.
MARKER_PREFIX = "hostile-case-marker"
OUTLIVE_SECONDS = 3.0


def prepend(stage: Path, code: str) -> None:
    app = stage / "app.py"
    app.write_text(code + "\n" + app.read_text())


def fingerprint(*folders: Path) -> dict[str, str]:
    """A hash of every file under the folders (how we see that nothing outside changed)."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def marked_processes(marker: str) -> list[psutil.Process]:
    alive = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(
            process.info["cmdline"] or []
        ):
            alive.append(process)
    return alive


@pytest.fixture
def graded_hostile(stage_copy, grader, tmp_path):
    """graded_hostile(code, which, *flags) -> the run; checks that nothing outlived it and that
    nothing outside the stage folder changed (the course's solutions and notebooks included)."""
    watched = [SOLUTIONS, COURSE_ROOT / "notebooks", COURSE_ROOT / "course"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("do not touch")
    before = fingerprint(*watched, outside)
    marker = f"{MARKER_PREFIX}-{tmp_path.name}"

    def grade(code: str, which: str = "starter", *flags: str, env: dict | None = None):
        stage = stage_copy("01", which)
        prepend(stage, code.replace("OUTSIDE", str(outside)).replace("MARKER", marker))
        run = grader("01", stage, tmp_path / "report.json", *flags, env=env or {})
        time.sleep(OUTLIVE_SECONDS)  # long enough for a survivor to act
        assert not marked_processes(marker), f"left running: {marked_processes(marker)}"
        assert fingerprint(*watched, outside) == before, "a file outside the submission changed"
        return run

    yield grade
    for process in marked_processes(marker):  # never leak into the next test, even on failure
        process.kill()


def test_an_app_that_runs_the_reference_solution_gets_zero(graded_hostile):
    run = graded_hostile(
        "import runpy, sys\n"
        f"runpy.run_path({str(SOLUTIONS / '01_basics' / 'app.py')!r}, run_name='__main__')\n"
        "sys.exit(0)\n",
        "starter",
        "--only",
        "1.1,1.3",
    )
    assert run.report["score"] == 0, run.stdout
    assert "No such file or directory" in run.stdout, "solutions/ is not there for the app"


def test_an_app_cannot_read_the_solutions_or_the_grader_reports(graded_hostile, tmp_path):
    probe = tmp_path / "probe.json"
    run = graded_hostile(
        "import json, os, pathlib\n"
        "def tried(path):\n"
        "    try:\n"
        "        return pathlib.Path(path).read_text()[:20]\n"
        "    except OSError as error:\n"
        "        return type(error).__name__\n"
        "seen = {p: tried(p) for p in (\n"
        f"    {str(SOLUTIONS / '01_basics' / 'app.py')!r},\n"
        f"    {str(COURSE_ROOT / 'notebooks' / 'nbgrader_config.py')!r},\n"
        f"    {str(COURSE_ROOT / 'autograder' / 'checks' / 'lesson01.py')!r},\n"
        f"    '/proc/1/root{COURSE_ROOT}/README.md',\n"
        ")}\n"
        "pathlib.Path('probe.json').write_text(json.dumps(seen))\n",
        "solution",
        "--only",
        "1.3",
    )
    assert run.report["passed"], run.stdout
    seen = json.loads((Path(run.report["path"]) / "probe.json").read_text())
    assert set(seen.values()) <= {"FileNotFoundError", "PermissionError"}, seen
    assert not probe.exists()


def test_a_daemon_the_app_double_forks_is_gone_with_the_run(graded_hostile):
    run = graded_hostile(
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execvp('sleep', ['sleep', '3600', 'MARKER'])\n"
        "    os._exit(0)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(2)\n"
        "        open('OUTSIDE/victim.txt', 'w').write('changed by a daemon')\n"
        "    os._exit(0)\n",
        "solution",
        "--only",
        "1.3",
    )
    assert run.report["passed"], "the daemons do not stop the app from working"


def test_a_flood_of_output_is_cut_to_size(graded_hostile, tmp_path):
    run = graded_hostile(
        "import sys\nsys.stdout.write('x' * 20_000_000 + '\\n')\nsys.stdout.flush()\n"
        "raise SystemExit('crashed after the flood')\n",
        "solution",
        "--only",
        "1.3",
    )
    report_size = (tmp_path / "report.json").stat().st_size
    assert report_size < 64 * 1024, f"the JSON report is {report_size:,} bytes"
    assert len(run.stdout) < 64 * 1024, f"the console got {len(run.stdout):,} characters"
    assert "crashed after the flood" in run.stdout, "the end of the output is still shown"
    assert "more characters" in run.stdout or "characters cut" in run.stdout


def test_a_fork_bomb_hits_the_process_limit_and_the_check_says_so(graded_hostile):
    run = graded_hostile(
        "import os, threading, time\n"
        "def bomb():\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            time.sleep(0.01)\n"
        "threading.Thread(target=bomb, daemon=True).start()\n",
        "solution",
        "--only",
        "1.3",
        env={"AUTOGRADER_APP_START_TIMEOUT": "10"},
    )
    assert run.report["score"] == 0, run.stdout
    assert "limit of 512 processes" in run.stdout
    assert run.seconds < 120


def test_a_runaway_allocation_hits_the_memory_limit_and_the_check_says_so(graded_hostile):
    run = graded_hostile(
        "import threading, time\n"
        "hoard = []\n"
        "def grow():\n"
        "    while True:\n"
        "        hoard.append(bytearray(50 * 1024 * 1024))\n"
        "threading.Thread(target=grow, daemon=True).start()\n",
        "solution",
        "--only",
        "1.3",
    )
    assert run.report["score"] == 0, run.stdout
    assert "memory limit" in run.stdout
