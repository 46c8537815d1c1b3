"""What a student's process may see and use: its own folder, the course's software, loopback.

Two Linux tools, both maintained and both needing no daemon:
- bubblewrap (Debian `bubblewrap`) gives each process a file view built from an allow-list:
  the system and the course's virtualenvs and `node_modules` read-only, the stage folder and
  the run's work folder writable, nothing else (no `solutions/`, no gradebook, no other
  submission, no grader report). It drops every capability, so root inside cannot reach
  another process's files through /proc either.
- a cgroup per grading run (v1 or v2) caps the number of processes and the memory of all of
  them together, and is how a run is torn down as one unit: whatever is in it is killed,
  however it forked or called setsid.

Why not a PID namespace: the checks compare the pid an app reports (its worker's pid in an
event) with the process they started, and each process in a namespace of its own is pid 2.

Where neither is possible (no bubblewrap, not root), the grader says so once and grades as
before: process groups and a parent-death signal stop what it started directly.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import psutil

from .paths import COURSE_ROOT, SIMPLE_WEBSOCKET_VENV, SOCKETIO_CLIENT_DIST

MAX_PROCESSES = 512  # processes and threads of one run; a fork bomb stops here
MAX_MEMORY = 2 * 1024**3  # bytes, for every process of one run together
MAX_FILE_SIZE = 64 * 1024**2  # bytes one process may write to one file (its log included)
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc")
CGROUP_ROOT = Path("/sys/fs/cgroup")
OFF_SWITCH = "AUTOGRADER_CONTAIN"  # "0" grades without containment (a benchmark's baseline)


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap with the course's allow-list."""

    bwrap: str

    def readable(self) -> list[Path]:
        paths = [Path(p) for p in SYSTEM_PATHS if not Path(p).is_symlink()]
        paths += [Path(sys.base_prefix), Path(sys.prefix), SIMPLE_WEBSOCKET_VENV]
        paths += [SOCKETIO_CLIENT_DIST, COURSE_ROOT / ".venv"]
        return list(dict.fromkeys(p.resolve() for p in paths if p.exists()))

    def wrap(
        self,
        command: list[str],
        cwd: Path,
        writable: list[Path],
        capabilities: tuple = (),
        network: bool = True,
    ) -> list[str]:
        """``command`` as bubblewrap runs it: it sees only what it needs. ``network`` False
        gives it a network of its own with nothing in it, not even the run's loopback."""
        arguments = [self.bwrap, "--die-with-parent", "--unshare-ipc", "--unshare-uts"]
        arguments += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        if not network:
            arguments.append("--unshare-net")
        for capability in capabilities:
            arguments += ["--cap-add", capability]
        for path in self.readable():
            arguments += ["--ro-bind", str(path), str(path)]
        for link in (Path(p) for p in SYSTEM_PATHS if Path(p).is_symlink()):  # /bin -> usr/bin
            arguments += ["--symlink", os.readlink(link), str(link)]
        arguments += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        for path in dict.fromkeys(p.resolve() for p in writable):
            arguments += ["--bind", str(path), str(path)]
        arguments += ["--remount-ro", "/"]  # the sandbox's own root: no writes that vanish
        return [*arguments, "--chdir", str(cwd.resolve()), "--", *command]


@cache
def find_sandbox() -> Sandbox | None:
    """bubblewrap, if it is installed and may make a sandbox here (tried once)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    probe = Sandbox(bwrap).wrap(["true"], Path("/"), [])
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Sandbox(bwrap) if done.returncode == 0 else None


@dataclass
class RunCgroup:
    """One cgroup per grading run, in every hierarchy that has the controller (v1) or the
    unified one (v2): what is in it is limited together and killed together."""

    folders: dict[str, Path]  # controller -> this run's folder
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls) -> RunCgroup | None:
        name = f"autograder-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        folders = {}
        _remove_abandoned()
        try:
            if (CGROUP_ROOT / "cgroup.controllers").is_file():  # v2 only
                parent = CGROUP_ROOT / _own_cgroup("")
                (parent / name).mkdir()
                folders = {c: parent / name for c in ("pids", "memory", "kill")}
            else:
                for controller in ("pids", "memory", "freezer"):
                    parent = CGROUP_ROOT / controller / _own_cgroup(controller)
                    (parent / name).mkdir()
                    folders[controller] = parent / name
            group = cls(folders)
            group._limit()
            return group
        except OSError:
            for folder in folders.values():
                with contextlib.suppress(OSError):
                    folder.rmdir()
            return None

    def _limit(self) -> None:
        pids, memory = self.folders["pids"], self.folders["memory"]
        (pids / "pids.max").write_text(str(MAX_PROCESSES))
        limit = memory / ("memory.max" if "kill" in self.folders else "memory.limit_in_bytes")
        limit.write_text(str(MAX_MEMORY))
        self.counters = self._events()

    def enter(self) -> None:
        """Move the calling process in (a child calls this between fork and exec)."""
        for folder in dict.fromkeys(self.folders.values()):
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self) -> list[int]:
        text = (self.folders["pids"] / "cgroup.procs").read_text()
        return [int(line) for line in text.split()]

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL everything in the cgroup; frozen first, so nothing forks meanwhile."""
        if "kill" in self.folders:  # v2 does it in one write
            with contextlib.suppress(OSError):
                (self.folders["kill"] / "cgroup.kill").write_text("1")
        else:
            freezer = self.folders["freezer"] / "freezer.state"
            with contextlib.suppress(OSError):
                freezer.write_text("FROZEN")
            with contextlib.suppress(OSError):
                for pid in self.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                freezer.write_text("THAWED")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if not self.pids():
                    return
            time.sleep(0.05)

    def remove(self) -> None:
        self.kill_all()
        for folder in dict.fromkeys(self.folders.values()):
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _events(self) -> dict[str, int]:
        """How often each limit has been hit so far."""
        counts = {}
        for name, path, key in (
            ("processes", self.folders["pids"] / "pids.events", "max"),
            ("memory", self.folders["memory"] / "memory.events", "oom_kill"),
            ("memory", self.folders["memory"] / "memory.oom_control", "oom_kill"),
        ):
            with contextlib.suppress(OSError, ValueError):
                for line in path.read_text().splitlines():
                    field_name, _, value = line.partition(" ")
                    if field_name == key:
                        counts[name] = counts.get(name, 0) + int(value)
        return counts

    def limits_hit(self) -> list[str]:
        """Sentences for the student about each limit hit since the last call."""
        now = self._events()
        hit = [name for name, count in now.items() if count > self.counters.get(name, 0)]
        self.counters = now
        said = {
            "processes": f"your app hit the limit of {MAX_PROCESSES} processes and threads "
            "(is something forking or starting threads in a loop?)",
            "memory": f"your app hit the memory limit of {MAX_MEMORY // 1024**2} MiB and a "
            "process of it was killed (is something growing without bound?)",
        }
        return [said[name] for name in hit]


def _remove_abandoned() -> None:
    """The cgroups of runs whose grader was killed (SIGKILL leaves no time to clean up):
    whatever is still in them is killed, then they are removed."""
    for controller in ("pids", "memory", "freezer", ""):
        with contextlib.suppress(OSError):
            parent = CGROUP_ROOT / controller / _own_cgroup(controller)
            for folder in parent.glob("autograder-*-*"):
                owner = int(folder.name.split("-")[1])
                if not Path(f"/proc/{owner}").exists():
                    how = "freezer" if controller else "kill"  # v1 freezes, v2 kills at once
                    RunCgroup({"pids": folder, how: folder}).remove()


def _own_cgroup(controller: str) -> str:
    """This process's cgroup in a hierarchy, relative to its root ('' is v2's)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers.split(",") == [controller] or (controller == "" and controllers == ""):
            return path.lstrip("/")
    raise OSError(f"no {controller or 'unified'} cgroup")


@dataclass
class Containment:
    """What this grading run can do to contain student code (decided once per run)."""

    sandbox: Sandbox | None
    cgroup: RunCgroup | None

    @classmethod
    def for_run(cls) -> Containment:
        if os.environ.get(OFF_SWITCH, "").strip() == "0":
            return cls(None, None)
        return cls(find_sandbox(), RunCgroup.create())

    @property
    def complete(self) -> bool:
        return self.sandbox is not None and self.cgroup is not None

    def notice(self) -> str | None:
        """One line when something is missing, None when containment is complete."""
        if self.complete:
            return None
        if os.environ.get(OFF_SWITCH, "").strip() == "0":
            return f"Containment is off ({OFF_SWITCH}=0): student code runs unconfined."
        missing = []
        if self.sandbox is None:
            missing.append("bubblewrap (apt-get install bubblewrap) to hide the course's files")
        if self.cgroup is None:
            missing.append("a writable cgroup (root) to limit and stop every process")
        return "Containment is partial: no " + "; no ".join(missing) + "."

    def command(self, command: list[str], cwd: Path, writable: list[Path], **options) -> list:
        if self.sandbox is None:
            return command
        return self.sandbox.wrap(command, cwd, writable, **options)

    def in_child(self) -> None:
        """Runs in each started child before exec: its cgroup and its file-size limit."""
        if self.cgroup is not None:
            self.cgroup.enter()
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_SIZE, MAX_FILE_SIZE))

    def limits_hit(self) -> list[str]:
        return self.cgroup.limits_hit() if self.cgroup is not None else []

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()


def _killed_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


try:  # loaded here, not in the child: dlopen between fork and exec can deadlock
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - not glibc Linux
    _LIBC = None
PR_SET_PDEATHSIG = 1
PRIVATE_NETWORK = "AUTOGRADER_PRIVATE_NETWORK"  # set inside the namespace, so it happens once


def run_in_private_network(module: str, argv: list[str]) -> int | None:
    """Run ``python -m module argv`` again inside a network namespace of its own, where only
    loopback exists: the grader, the student's app and the browser reach each other, nothing
    else (no shared services, no internet). Returns its exit code; None when this process
    should grade by itself (already inside, containment off, or no bubblewrap here).

    This process stays outside only to pass Ctrl-C and SIGTERM on and to wait.
    """
    sandbox = find_sandbox()
    if os.environ.get(PRIVATE_NETWORK) or sandbox is None:
        return None
    if os.environ.get(OFF_SWITCH, "").strip() == "0":
        return None
    command = [sandbox.bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent"]
    isolated = ["-I"] if sys.flags.isolated else []
    command += ["--", sys.executable, *isolated, "-m", module, *argv]
    # Its own session: a Ctrl-C at the terminal reaches only this process, which passes it to
    # the grader inside. bubblewrap itself would die of it and take the grader down unwarned.
    inner = subprocess.Popen(
        command,
        env={**os.environ, PRIVATE_NETWORK: "1"},
        preexec_fn=_killed_with_parent,
        start_new_session=True,
    )

    def pass_on(signum, frame):
        with contextlib.suppress(psutil.Error):
            for grader in psutil.Process(inner.pid).children():
                grader.send_signal(signum)

    previous = {s: signal.signal(s, pass_on) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            with contextlib.suppress(InterruptedError):
                return inner.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
