"""Runs a student's pytest tests many times from one interpreter that has imported the libraries
once: it forks one contained child per run (Exercises 2.9 and 3.7, student_tests.py).

Started by the grader as ``python -I -c <this file's text> <config>``, inside the grader's
sandbox (containment.py), with the two capabilities it needs to contain each child itself.
It imports only pytest and third-party libraries, never a file of the app or of the tests, and
it runs no student code: each run forks a fresh copy of it (C1, which keeps the time limit),
which forks the run's init (C2), which

- enters namespaces of its own (mounts, processes, network, IPC, host name) and a file view
  built from nothing (pivot_root): the system and the course's virtualenvs read-only, its own
  scratch copy of the app and a fresh /tmp writable, nothing else (no other run's copy);
- is pid 1 of its own PID namespace, so whatever the run starts dies with it;
- drops every capability (bounding set included), then forks the tests' process (C3): the
  first line of student code runs there.

The file view is audited from /proc/self/mountinfo before that first line: a writable mount
that is not one of the run's own stops the run (exit code NOT_CONTAINED).

Protocol, JSON lines on a Unix socket the grader listens on (``socket`` in the config):
  server -> grader  {"ready": true, "isolated": bool, "why": str}
  grader -> server  {"run": id, "dir": path, "paths": [...], "time_limit": seconds}
  server -> grader  {"started": id, "pid": pid}   the grader may move pid into a cgroup, then
  grader -> server  {"go": id}
  server -> grader  {"done": id, "code": exit code}: pytest's own (0-5) or one of those below

Standard library only: it runs where the autograder package is not visible.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import platform
import selectors
import signal
import socket
import sys
import time

TIMED_OUT, CRASHED, NOT_CONTAINED, NO_GO = 100, 101, 102, 103
PYTEST_CODES = range(6)  # pytest's exit codes; any other code of a run is CRASHED

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_GET_SECUREBITS, PR_SET_SECUREBITS = 1, 24, 27, 28
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
# SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP and their locks, and the lock of SECBIT_KEEP_CAPS: root
# gains no capability by exec'ing anything, ever again.
SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20
CAPABILITY_VERSION_3 = 0x20080522
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEVICE_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}
READ_ONLY_PROC = ("sys", "sysrq-trigger", "irq", "bus")
NEW_ROOT = "/tmp"  # a mount point in the grader's sandbox; each run mounts its own root over it

_libc = ctypes.CDLL(None, use_errno=True)


class NotContained(Exception):
    """A step of a run's containment failed: the run does not start."""


def _call(name: str, *arguments) -> None:
    if getattr(_libc, name)(*arguments) != 0:
        error = ctypes.get_errno()
        raise NotContained(f"{name}{arguments!r}: {os.strerror(error)}")


def _path(path: str | None):
    return None if path is None else os.fsencode(path)


def _mount(source, target, fstype, flags, data=None) -> None:
    _call("mount", _path(source), _path(target), _path(fstype), flags, _path(data))


def _prctl(option: int, value: int = 0) -> None:
    zero = ctypes.c_ulong(0)
    _call("prctl", option, ctypes.c_ulong(value), zero, zero, zero)


# -- a run's own file view ----------------------------------------------------------------
def build_view(app: str, readable: list[str], links: list[list[str]]) -> None:
    """Mount a new root for this run and pivot into it (the caller has unshared mounts)."""
    app_fd = os.open(app, os.O_PATH | os.O_DIRECTORY)  # reachable once NEW_ROOT covers it
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    root = NEW_ROOT
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for path in readable:
        target = root + path
        os.makedirs(target, exist_ok=True)
        _mount(path, target, None, MS_BIND | MS_REC)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for target, link in links:
        os.symlink(target, root + link)
    dev = root + "/dev"
    os.makedirs(dev)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755")
    for device in DEVICES:
        open(f"{dev}/{device}", "w").close()
        _mount(f"/dev/{device}", f"{dev}/{device}", None, MS_BIND)
    for name, target in DEVICE_LINKS.items():
        os.symlink(target, f"{dev}/{name}")
    os.mkdir(f"{dev}/pts")
    os.mkdir(f"{dev}/shm")
    _mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666")
    _mount("tmpfs", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    _mount(None, dev, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in READ_ONLY_PROC:
        target = f"{root}/proc/{name}"
        if os.path.exists(target):
            _mount(target, target, None, MS_BIND | MS_REC)
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.makedirs(root + "/tmp", exist_ok=True)
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.makedirs(root + app, exist_ok=True)
    _mount(f"/proc/self/fd/{app_fd}", root + app, None, MS_BIND)
    os.close(app_fd)
    os.chdir(root)
    _call("pivot_root", b".", b".")  # the old root ends up under the new one: detach it
    _call("umount2", b".", MNT_DETACH)
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    audit_view(app)


def audit_view(app: str) -> None:
    """Every writable mount is one of this run's own, or a device node."""
    allowed = {"/tmp", app, "/dev/shm", "/dev/pts", "/proc"}
    with open("/proc/self/mountinfo") as table:
        for line in table:
            before, _, after = line.partition(" - ")
            fields = before.split()
            point = fields[4].encode().decode("unicode_escape")  # \040 for a space
            writable = "rw" in fields[5].split(",")
            fstype = after.split()[0]
            device = fstype == "devtmpfs" and point in {f"/dev/{d}" for d in DEVICES}
            if writable and point not in allowed and not device:
                raise NotContained(f"{point} ({fstype}) is writable")


# -- capabilities ------------------------------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """No capability left in any set, and none to be had again (NO_NEW_PRIVS, securebits)."""
    bits = _libc.prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)
    if bits < 0 or bits & SECUREBITS != SECUREBITS:
        _prctl(PR_SET_SECUREBITS, max(bits, 0) | SECUREBITS)
    with open("/proc/sys/kernel/cap_last_cap") as last:
        for capability in range(int(last.read()) + 1):
            _prctl(PR_CAPBSET_DROP, capability)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _call("capset", ctypes.byref(header), data)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")):
                if int(line.split()[1], 16):
                    raise NotContained(f"still has capabilities: {line.strip()}")


# -- one run -----------------------------------------------------------------------------
def run_child(request: dict, config: dict, go: int, server_pid: int) -> int:
    """The body of a run's first child (C1): waits for the go, unshares, forks the contained
    init (C2, pid 1 of its namespace) and returns the run's exit code."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server_pid:
        return CRASHED
    if os.read(go, 1) != b"g":
        return NO_GO
    os.close(go)
    deadline = time.monotonic() + float(request["time_limit"])
    log = os.open(
        os.path.join(os.path.dirname(request["dir"]), "pytest.log"),
        os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        0o600,
    )
    if config["isolate"]:
        try:
            _call("unshare", NAMESPACES)
        except NotContained as error:
            os.write(log, f"not contained: {error}\n".encode())
            return NOT_CONTAINED
    contained_r, contained_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = CRASHED
        try:
            os.close(contained_r)
            code = contained_pytest(request, config, log, contained_w)
        finally:
            os._exit(code)
    os.close(contained_w)
    os.close(log)
    child = os.pidfd_open(pid)
    waiter = selectors.DefaultSelector()
    waiter.register(child, selectors.EVENT_READ)
    ended = bool(waiter.select(max(0.0, deadline - time.monotonic())))
    with contextlib.suppress(ProcessLookupError):  # all it started (its namespace dies anyway)
        os.killpg(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    contained = os.read(contained_r, 1) == b"c"  # written before any student code, or never
    if not contained:
        return NOT_CONTAINED
    if not ended:
        return TIMED_OUT
    code = os.waitstatus_to_exitcode(status)
    return code if code in PYTEST_CODES else CRASHED


def contained_pytest(request: dict, config: dict, log: int, contained: int) -> int:
    """C2: contain this process, then run pytest in a child of it (C3, where student code
    runs), reaping whatever else ends in the namespace until that child ends."""
    app = request["dir"]
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, contained)
    os.closerange(contained + 1, os.sysconf("SC_OPEN_MAX"))
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.setsid()  # one process group to kill, when nothing else holds it together
        if config["isolate"]:
            build_view(app, config["readable"], config["links"])
            drop_capabilities()
    except (NotContained, OSError) as error:
        print(f"not contained: {error}", flush=True)
        return NOT_CONTAINED
    os.write(contained, b"c")
    os.close(contained)
    # pid 1 of the namespace stays this trusted code, which only reaps: the tests run in a
    # child, where signals work as in any process (pid 1 ignores even its own SIGKILL).
    tests = os.fork()
    if tests == 0:
        code = CRASHED
        try:
            code = run_pytest(app, request["paths"])
        finally:
            os._exit(code)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == tests:
            code = os.waitstatus_to_exitcode(status)
            return code if code in PYTEST_CODES else CRASHED


def run_pytest(app: str, paths: list[str]) -> int:
    """C3: the student's tests, as `python -m pytest -q -p no:cacheprovider -- paths` in app."""
    os.chdir(app)
    sys.path.insert(0, app)
    sys.argv = ["pytest"]
    sys.dont_write_bytecode = True
    import pytest

    try:
        code = int(pytest.main(["-q", "-p", "no:cacheprovider", "--", *paths]))
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else CRASHED
    except BaseException:
        code = CRASHED
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    return code


# -- the server --------------------------------------------------------------------------
def preload(names: list[str]) -> None:
    """Import pytest, its own plugins and the libraries the apps use, once for every run."""
    import pytest  # noqa: F401
    from _pytest.config import default_plugins

    for name in [*(f"_pytest.{p}" for p in default_plugins), *names]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()  # the children's collections skip all of this (and leave its pages shared)


def probe(config: dict) -> tuple[bool, str]:
    """Can a child be contained here? One run that sets everything up and runs nothing."""
    if not config["isolate"]:
        return False, "not asked to"
    pid = os.fork()
    if pid == 0:
        code = NOT_CONTAINED
        try:
            _call("unshare", NAMESPACES)
            inner = os.fork()
            if inner == 0:
                inner_code = NOT_CONTAINED
                try:
                    build_view(config["probe"], config["readable"], config["links"])
                    drop_capabilities()
                    inner_code = 0
                except Exception as error:
                    with contextlib.suppress(Exception):
                        print(f"not contained: {error}", file=sys.stderr, flush=True)
                finally:
                    os._exit(inner_code)
            code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
        except Exception as error:
            with contextlib.suppress(Exception):
                print(f"not contained: {error}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return code == 0, "" if code == 0 else "a child could not be contained (see the log)"


def serve(config: dict) -> None:
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.connect(config["socket"])
    preload(config["preload"])
    isolated, why = probe(config)

    def send(message: dict) -> None:
        control.sendall(json.dumps(message).encode() + b"\n")

    send({"ready": True, "isolated": isolated, "why": why})
    if config["isolate"] and not isolated:
        return
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, None)
    runs: dict[str, tuple[int, int]] = {}  # id -> (pid, write end of its go pipe)
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.data is not None:  # a run's first child ended
                run_id, pid, pidfd = key.data
                selector.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                runs.pop(run_id, None)
                send({"done": run_id, "code": os.waitstatus_to_exitcode(status)})
                continue
            data = control.recv(65536)
            if not data:  # the grader is gone: so are the runs
                for pid, _ in runs.values():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                message = json.loads(line)
                if "run" in message:
                    go_r, go_w = os.pipe()
                    pid = os.fork()
                    if pid == 0:
                        code = CRASHED
                        try:
                            os.close(go_w)
                            control.close()
                            selector.close()
                            code = run_child(message, config, go_r, server_pid)
                        finally:
                            os._exit(code)
                    os.close(go_r)
                    runs[message["run"]] = (pid, go_w)
                    pidfd = os.pidfd_open(pid)
                    selector.register(pidfd, selectors.EVENT_READ, (message["run"], pid, pidfd))
                    send({"started": message["run"], "pid": pid})
                elif "go" in message:
                    _, go_w = runs[message["go"]]
                    os.write(go_w, b"g")
                    os.close(go_w)


server_pid = os.getpid()
if __name__ == "__main__":
    if platform.system() != "Linux":  # pragma: no cover
        raise SystemExit("Linux only")
    serve(json.loads(sys.argv[1]))
