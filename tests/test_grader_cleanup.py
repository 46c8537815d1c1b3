"""Stopping the grader (Ctrl-C, SIGTERM, even SIGKILL) stops everything it started."""

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from autograder.paths import COURSE_ROOT

READY_WAIT = 30.0  # seconds until the grader has started the app
EXIT_BOUND = 10.0  # seconds the grader may take to clean up and exit after a signal
INTERRUPTED = 130


class RunningGrader:
    """`python -m autograder 01 <copy>` as a subprocess whose output is read as it comes."""

    def __init__(self, stage, *flags: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder", "01", str(stage), *flags],
            cwd=COURSE_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen_descendants: list[psutil.Process] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for_app(self) -> int:
        """Block until the grader prints "ready at http://127.0.0.1:PORT"; return PORT."""
        deadline = time.monotonic() + READY_WAIT
        seen = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            seen.append(line)
            if "ready at http://127.0.0.1:" in line:
                return int(line.rsplit(":", 1)[1].split()[0])
        self.process.kill()
        pytest.fail(f"the grader never started the app; it printed {seen}")

    def rest_of_output(self) -> str:
        """What the grader printed after the lines already taken, once it has exited."""
        self._reader.join(timeout=10)
        return "".join(self.lines.queue)

    def descendants(self) -> list[psutil.Process]:
        found = psutil.Process(self.process.pid).children(recursive=True)
        self.seen_descendants += found
        return found

    def stop_if_running(self):
        """Teardown: whatever a failed test left behind is killed, so it cannot leak further."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for process in self.seen_descendants:
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture
def grader_on_solution(stage_copy):
    running = []

    def start(which: str = "solution", *flags: str):
        running.append(RunningGrader(stage_copy("01", which), *flags))
        return running[-1]

    yield start
    for grader in running:
        grader.stop_if_running()


def name_of(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.NoSuchProcess:
        return ""


def all_gone(processes: list[psutil.Process]) -> bool:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return not alive


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_grader_and_everything_it_started(
    sig, grader_on_solution, leftovers, tmp_path
):
    grader = grader_on_solution()
    port = grader.wait_for_app()
    children = grader.descendants()
    assert children, "the grader runs the app as its child"

    sent = time.monotonic()
    grader.process.send_signal(sig)
    code = grader.process.wait(timeout=EXIT_BOUND)
    took = time.monotonic() - sent

    assert code == INTERRUPTED
    assert took < EXIT_BOUND
    stderr = grader.process.stderr.read()
    assert "Interrupted: every process the grader started has been stopped." in stderr
    assert "Traceback" not in stderr
    assert leftovers.wait_for(lambda: all_gone(children), 5.0), children
    leftovers.assert_none(tmp_path, [port])


def test_a_killed_grader_takes_its_app_with_it(grader_on_solution, leftovers, tmp_path):
    """SIGKILL cannot be caught: PR_SET_PDEATHSIG makes the kernel stop the app."""
    grader = grader_on_solution()
    port = grader.wait_for_app()
    apps = [p for p in grader.descendants() if str(tmp_path) in (p.cwd() or "")]
    assert apps, "the app runs in the stage folder"

    grader.process.kill()
    grader.process.wait(timeout=EXIT_BOUND)
    leftovers.assert_none(tmp_path, [port], grace=EXIT_BOUND)
    assert all_gone(apps)


def test_ctrl_c_during_a_browser_check_leaves_no_browser_behind(
    grader_on_solution, leftovers, tmp_path, chromium_path
):
    # The starter's page never shows "connected", so its browser check waits long enough.
    grader = grader_on_solution("starter", "--only", "1.5")
    port = grader.wait_for_app()
    browser_open = leftovers.wait_for(
        lambda: any("chromium" in name_of(p) for p in grader.descendants()), READY_WAIT
    )
    assert browser_open, "the browser check never started Chromium"
    children = grader.descendants()

    grader.process.send_signal(signal.SIGINT)
    assert grader.process.wait(timeout=EXIT_BOUND) == INTERRUPTED
    assert leftovers.wait_for(lambda: all_gone(children), EXIT_BOUND), [
        p for p in children if p.is_running()
    ]
    leftovers.assert_none(tmp_path, [port])


def test_a_browser_check_over_its_time_limit_leaves_no_browser_behind(
    grader_on_solution, leftovers, tmp_path, chromium_path
):
    grader = grader_on_solution("starter", "--only", "1.5", "--time-limit", "2")
    port = grader.wait_for_app()
    browser_open = leftovers.wait_for(
        lambda: any("chromium" in name_of(p) for p in grader.descendants()), READY_WAIT
    )
    assert browser_open, "the browser check never started Chromium"
    children = grader.descendants()

    assert grader.process.wait(timeout=EXIT_BOUND) == 1
    assert "the check did not finish within 2 s" in grader.rest_of_output()
    assert "Traceback" not in grader.process.stderr.read()
    assert leftovers.wait_for(lambda: all_gone(children), EXIT_BOUND), [
        p for p in children if p.is_running()
    ]
    leftovers.assert_none(tmp_path, [port])
