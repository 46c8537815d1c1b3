"""Hostile tests of a student's own (Exercise 2.9), graded through the real CLI: they run with
no network, in a scratch copy thrown away after each run, within their time limit, leaving
nothing running and changing nothing outside, and no run sees what another left; all the
student learns is the outcome. The last tests look inside one run of the fork server."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import psutil
import pytest

from autograder.broken_variants import VARIANTS
from autograder.containment import find_sandbox
from autograder.harness import Harness
from autograder.paths import COURSE_ROOT, SOLUTIONS
from autograder.student_tests import FAILED, PASSED, SERVER_PYCACHE, ForkServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_sandbox() is None, reason="bubblewrap cannot run here"),
]
REFERENCE_CHECK = "your_tests_pass_on_the_reference"
TIME_LIMIT = 20  # seconds, AUTOGRADER_STUDENT_TESTS_TIME_LIMIT for these runs
# In the command line of what a case starts itself; one per test, since under xdist a sibling
# test's deliberate survivor may be alive on the other worker.
MARKER_PREFIX = "hostile-student-test-marker"
OUTLIVE_SECONDS = 3.0


def fingerprint(*folders: Path) -> dict[str, str]:
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def marked_processes(marker: str) -> list[psutil.Process]:
    alive = []
    for process in psutil.process_iter(["cmdline", "status"]):
        command = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and marker in command:
            alive.append(process)
    return alive


@pytest.fixture
def graded_tests(stage_copy, grader, tmp_path):
    """graded_tests(test_code) -> (run, result of the reference check); nothing outlives the run
    and nothing outside the submission changes (the reference solutions included)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("do not touch")
    watched = [SOLUTIONS, COURSE_ROOT / "course", outside]
    before = fingerprint(*watched)
    marker = f"{MARKER_PREFIX}-{tmp_path.name}"

    def grade(code: str, checks: tuple[str, ...] = ("--checks", REFERENCE_CHECK)):
        stage = stage_copy("02")
        code = code.replace("MARKER", marker).replace("OUTSIDE", str(outside))
        (stage / "tests" / "test_sockets.py").write_text(code)
        started = time.monotonic()
        run = grader(
            "02",
            stage,
            tmp_path / "report.json",
            *checks,
            env={"AUTOGRADER_STUDENT_TESTS_TIME_LIMIT": str(TIME_LIMIT)},
        )
        took = time.monotonic() - started
        time.sleep(OUTLIVE_SECONDS)
        assert not marked_processes(marker), f"left running: {marked_processes(marker)}"
        assert fingerprint(*watched) == before, "a file outside the submission changed"
        assert run.report is not None, run.output
        results = {r["check"]: r for r in run.report["results"]}
        return run, results[REFERENCE_CHECK] if len(results) == 1 else results, took

    yield grade
    for process in marked_processes(marker):
        process.kill()


def test_a_test_sees_no_network_of_the_grading_run(graded_tests):
    # The student's app listens on the grading run's loopback while the tests run: a test
    # sharing that network would see its port in /proc/net/tcp (state 0A, LISTEN).
    run, result, _ = graded_tests(
        "def test_something_listens_here():\n"
        "    lines = open('/proc/net/tcp').read().splitlines()[1:]\n"
        "    assert any(line.split()[3] == '0A' for line in lines)\n"
    )
    assert result["status"] == "FAIL", "the tests shared the grading run's network"
    assert "at least one test failed" in result["received"]


def test_a_test_that_hangs_is_stopped_at_its_time_limit(graded_tests):
    run, result, took = graded_tests(
        "import subprocess, sys, time\n"
        "def test_forever():\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', 'MARKER'])\n"
        "    time.sleep(600)\n"
    )
    assert result["status"] == "FAIL"
    assert f"did not finish within {TIME_LIMIT} s" in result["received"]
    assert took < 40, f"the run took {took:.0f} s"


def test_writes_stay_in_the_scratch_copy(graded_tests):
    run, result, _ = graded_tests(
        "from pathlib import Path\n"
        "def test_write_everywhere():\n"
        "    Path('auth.py').write_text('# changed by a test')\n"  # the scratch copy: allowed
        "    for target in ['OUTSIDE/victim.txt', 'OUTSIDE/new.txt']:\n"
        "        try:\n"
        "            Path(target).write_text('changed')\n"
        "        except OSError:\n"
        "            pass\n"
    )
    assert result["status"] == "PASS", result  # it ran; the fixture checks nothing changed


# Passes against the reference, the first run, and fails against a variant only if it sees
# something an earlier run (or one beside it) left: a file in any place it may write, a process,
# a socket. The variants run after the reference, side by side.
SEES_OTHER_RUNS = """
import os, random, socket, subprocess, sys, time

PLACES = ["/tmp", "/dev/shm", os.path.dirname(os.getcwd()), os.getcwd()]

def something_left():
    for place in PLACES:
        try:
            if any("MARKER" in name for name in os.listdir(place)):
                return True
        except OSError:
            pass
    for pid in (p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
        try:
            if b"MARKER" in open(f"/proc/{pid}/cmdline", "rb").read():
                return True
        except OSError:
            pass
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(chr(0) + "MARKER")
        return True
    except OSError:
        return False
    finally:
        probe.close()

def test_nothing_of_another_run_is_here():
    seen = something_left()
    for place in PLACES:
        try:
            open(os.path.join(place, f"MARKER-{random.random()}"), "w").write("here")
        except OSError:
            pass
    listener = "import socket, time; s = socket.socket(socket.AF_UNIX); "
    listener += "s.bind(chr(0) + 'MARKER'); s.listen(); time.sleep(60)"
    subprocess.Popen([sys.executable, "-c", listener, "MARKER"], start_new_session=True)
    time.sleep(0.5)
    assert not seen
"""


def test_no_run_sees_what_another_run_left(graded_tests):
    run, results, _ = graded_tests(SEES_OTHER_RUNS, checks=("--only", "2.9"))
    assert results[REFERENCE_CHECK]["status"] == "PASS", results[REFERENCE_CHECK]
    variants = {name: r for name, r in results.items() if name != REFERENCE_CHECK}
    assert len(variants) == len(VARIANTS["02"])
    caught = [name for name, r in variants.items() if r["received"] != "every test passed"]
    assert not caught, f"these runs saw what another run left: {caught}"


# Run in the fork server directly: every assertion is about the run's own view.
LOOKS_AROUND = """
import os, socket

def test_contained_alone():
    here = os.getcwd()
    assert os.getppid() == 1, "the child of pid 1 of a PID namespace of its own"
    processes = sorted(p for p in os.listdir("/proc") if p.isdigit())
    assert processes == ["1", str(os.getpid())], "no other process"
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, capabilities
    assert os.listdir(os.path.dirname(here)) == ["app"], "no other run's copy, no socket"
    fresh_tmp = [here.split("/")[2]] if here.startswith("/tmp/") else []
    assert os.listdir("/tmp") == fresh_tmp, "a /tmp of its own"
    assert not os.path.exists(SOLUTIONS), "the course's files"
    assert not os.path.exists(PYCACHE), "the server's bytecode"
    for target in ["/x", "/dev/x", "/usr/x", "/etc/x", "/proc/sys/kernel/hostname"]:
        try:
            open(target, "w").write("1")
        except OSError:
            continue
        raise AssertionError(f"wrote {target}")
    open("/tmp/x", "w").write("1")
    open("/dev/shm/x", "w").write("1")
    open("written-here", "w").write("1")
    interfaces = [line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]]
    assert interfaces == ["lo"], interfaces
    probe = socket.socket()
    assert probe.connect_ex(("127.0.0.1", 6379)) != 0, "a service of the machine"
"""


@pytest.fixture
def fork_server():
    """run(code, copies=1) -> [SuiteRun of each copy]: ``code`` as tests/test_x.py, one run
    per copy, side by side, in one fork server."""
    with Harness(network=False) as harness:
        server = ForkServer(harness)
        assert server.usable and server.isolated, harness.processes[0].log_tail()
        calls = []

        def run(code: str, copies: int = 1) -> list:
            calls.append(code)
            apps = {}
            for number in range(copies):
                app = harness.work_dir / f"call{len(calls)}-copy{number}" / "app"
                (app / "tests").mkdir(parents=True)
                (app / "tests" / "test_x.py").write_text(code)
                apps[str(number)] = app
            runs = server.run(apps, ("tests/test_x.py",), 20)
            return [runs[str(number)] for number in range(copies)]

        yield run
        server.close()


def test_each_run_is_contained_alone(fork_server):
    code = LOOKS_AROUND.replace("SOLUTIONS", repr(str(SOLUTIONS)))
    code = code.replace("PYCACHE", repr(str(SERVER_PYCACHE)))
    runs = fork_server(code, copies=2)
    assert [r.outcome for r in runs] == [PASSED, PASSED], runs


def test_a_run_that_exhausts_its_processes_is_told_and_the_next_is_not(fork_server):
    code = (
        "import threading, time\n"
        "def test_many_threads():\n"
        "    for _ in range(600):\n"
        "        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
    )
    (exhausted,) = fork_server(code)
    assert exhausted.outcome == FAILED, exhausted
    assert any("processes" in limit for limit in exhausted.limits), exhausted
    (fine,) = fork_server("def test_fine():\n    pass\n")
    assert fine.outcome == PASSED and not fine.limits, fine
