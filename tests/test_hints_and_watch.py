"""`make hint` shows the next hint level and remembers it; `make watch` grades again after a save
and moves on to the next exercise when one passes."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time

import pytest

from autograder.manifest import load_manifest
from autograder.paths import COURSE_ROOT, LESSONS, SOLUTIONS

WATCH_WAIT = 90.0  # seconds for one grading round of the watched starter


def hint(state_dir, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.hints", *arguments],
        cwd=COURSE_ROOT,
        env={**os.environ, "AUTOGRADER_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_each_call_shows_the_next_level_and_remembers_it(tmp_path):
    levels = len(load_manifest("01").exercise("1.3").hints)
    for level in range(1, levels + 1):
        done = hint(tmp_path, "1.3")
        assert done.returncode == 0, done.stderr
        assert f"Exercise 1.3, hint {level} of {levels}:" in done.stdout
    again = hint(tmp_path, "1.3")
    assert f"hint {levels} of {levels}" in again.stdout and "last hint" in again.stdout
    assert "hint 1 of" in hint(tmp_path, "1.4").stdout, "each exercise has its own level"
    every = hint(tmp_path, "1.3", "--all").stdout
    assert all(f"hint {n} of {levels}" in every for n in range(1, levels + 1))
    hint(tmp_path, "1.3", "--reset")
    assert "hint 1 of" in hint(tmp_path, "1.3").stdout


@pytest.mark.parametrize("exercise, message", [("9.9", "No manifest"), ("1.9", "has no exercise")])
def test_an_unknown_exercise_is_refused_with_what_exists(exercise, message, tmp_path):
    done = hint(tmp_path, exercise)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_make_hint_runs_the_same_command(tmp_path):
    done = subprocess.run(
        ["make", "--no-print-directory", "hint", "EX=2.3"],
        cwd=COURSE_ROOT,
        env={**os.environ, "AUTOGRADER_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Exercise 2.3, hint 1 of" in done.stdout


class Watching:
    """`python -m autograder.watch 01 FOLDER` with its output read line by line as it comes."""

    def __init__(self, folder, state_dir):
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "AUTOGRADER_STATE_DIR": str(state_dir),
            # The starter waits out every timeout: short ones keep a round quick.
            "AUTOGRADER_EVENT_TIMEOUT": "1",
            "AUTOGRADER_BROWSER_TIMEOUT": "2",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.watch", "01", str(folder)],
            cwd=COURSE_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = WATCH_WAIT) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        pytest.fail(f"watch never printed {text!r}; it printed:\n" + "\n".join(self.seen[-40:]))

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def test_watch_grades_again_after_a_save_and_moves_on(tmp_path, leftovers):
    folder = tmp_path / "01_basics"
    shutil.copytree(LESSONS / "01_basics", folder, ignore=shutil.ignore_patterns("__pycache__"))
    watching = Watching(folder, tmp_path / "state")
    try:
        watching.wait_for("Next: Exercise 1.1")
        watching.send("h")
        watching.wait_for("Exercise 1.1, hint 1 of")

        # Solve 1.1-1.4 in one save: the Python file of the reference; 1.5 is JavaScript.
        shutil.copy(SOLUTIONS / "01_basics" / "app.py", folder / "app.py")
        watching.wait_for("A file changed: grading again.")
        watching.wait_for("Exercise 1.1 passes. On to the next one.")
        watching.wait_for("Exercise 1.4 passes. On to the next one.")
        watching.wait_for("Next: Exercise 1.5")
        watching.send("q")
        assert watching.process.wait(timeout=30) == 1, "not every exercise passes yet"
    finally:
        watching.stop()
    rounds = [line for line in watching.seen if line.startswith("Grading lesson 01")]
    everything = f"({sum(len(e.checks) for e in load_manifest('01').exercises)} checks)"
    assert rounds[0].endswith(everything), "the first round grades everything"
    assert all(not r.endswith(everything) for r in rounds[1:]), "later ones --only one exercise"
    leftovers.assert_none(folder)
