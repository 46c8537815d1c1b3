"""Starts and stops the real processes a stage needs, and always cleans them up.

Every process runs in its own process group (so its children go with it), is told to
die with the grader (PR_SET_PDEATHSIG), and is stopped on exit, on failure and on Ctrl-C.
PR_SET_PDEATHSIG fires when the *thread* that started the child ends, so every start goes
through one launcher thread that lives as long as the Harness: a check running in its own
thread may start processes without them dying when that check ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import psutil

from . import settings
from .containment import Containment
from .failures import StartError
from .waiting import poll_until

PR_SET_PDEATHSIG = 1
TAIL_BYTES = 64 * 1024  # of a log read for its last lines
LINE_CHARACTERS = 500  # of one log line shown to the student

__all__ = [
    "Harness",
    "Launcher",
    "ManagedProcess",
    "Scope",
    "StartError",
    "free_port",
    "wait_until",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


try:  # loaded here, not in the child: dlopen between fork and exec can deadlock
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - not glibc Linux: no parent-death signal
    _LIBC = None


def _die_with(parent_pid: int, also: Callable[[], None] | None = None) -> Callable[[], None]:
    def in_child() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the grader died before prctl took effect
            os._exit(1)
        if also is not None:
            also()

    return in_child


class ManagedProcess:
    """One child process with its output in a log file."""

    def __init__(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        env: dict,
        log_dir: Path,
        in_child: Callable[[], None] | None = None,
        wrapped: bool = False,
    ):
        self.name = name
        self.wrapped = wrapped  # started through containment's wrapper, which runs it as a child
        self._program_pid: int | None = None
        self.command = command
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        try:
            self.popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid(), in_child),
            )
        except OSError as error:
            self._log.close()
            raise StartError(f"could not start {name} ({' '.join(command)}): {error}") from error

    @property
    def pid(self) -> int:
        """The program's own pid: what it reports as os.getpid(), wrapped or not."""
        if not self.wrapped:
            return self.popen.pid
        if self._program_pid is None:
            found = poll_until(
                lambda: psutil.Process(self.popen.pid).children(),
                2.0,
                0.01,
                give_up=lambda: self.popen.poll() is not None,
            )
            self._program_pid = found[0].pid if found else self.popen.pid
        return self._program_pid

    def exited(self) -> int | None:
        return self.popen.poll()

    def log_size(self) -> int:
        """Bytes of output so far: a mark for log_since."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, mark: int) -> str:
        """What it printed after byte ``mark`` of its output (a log_size)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(mark)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = settings.LOG_TAIL_LINES) -> str:
        """The last lines of its output, each cut to a readable length, however much it wrote."""
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - TAIL_BYTES))
            text = log.read().decode(errors="replace")
        shown = [clip(line, LINE_CHARACTERS) for line in text.rstrip().splitlines()[-lines:]]
        if size > TAIL_BYTES and shown:
            shown[0] = "… " + shown[0]
        return "\n".join(shown) or "(it printed nothing)"

    def kill(self) -> None:
        """SIGKILL it and everything in its process group at once, as when a machine dies."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def stop(self, grace: float | None = None) -> None:
        # Wrapped, the program gets SIGTERM by itself: the wrapper would die of it at once and
        # take the program down with SIGKILL, before it could shut down cleanly.
        running_wrapped = self.wrapped and self.popen.poll() is None
        stop_process_group(self.popen, grace, first=self.pid if running_wrapped else None)
        self._log.close()


def stop_process_group(
    popen: subprocess.Popen, grace: float | None = None, first: int | None = None
) -> None:
    """SIGTERM the child's whole process group (or just the process ``first``), then SIGKILL
    whatever is left of the group.

    The group may outlive its leader (a worker the leader forked): it is finished off too.
    """
    grace = settings.STOP_GRACE if grace is None else grace
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sig == signal.SIGTERM and first is not None:
                os.kill(first, sig)
            else:
                os.killpg(popen.pid, sig)
        try:
            popen.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)


def clip(text: str, characters: int) -> str:
    """``text`` cut to ``characters``, saying how much was left out."""
    if len(text) <= characters:
        return text
    return f"{text[:characters]}… ({len(text) - characters:,} more characters)"


class Harness:
    """Owns every process a grading run starts. Use it as a context manager.

    ``contain`` (default: whatever this machine allows) runs each process through
    containment.py: a file view of its own, one cgroup for the run. Its logs stay in
    ``log_dir``, which contained processes cannot see; ``work_dir`` is where they may write.
    ``network`` False (with containment) cuts its processes off every network.
    """

    def __init__(self, log_dir: Path | None = None, contain: bool = True, network: bool = True):
        self.network = network  # False: what it starts reaches no one, not even loopback
        self._tmp = None if log_dir else tempfile.TemporaryDirectory(prefix="autograder-")
        self.log_dir = log_dir or Path(self._tmp.name)
        self._work = tempfile.TemporaryDirectory(prefix="autograder-work-")
        self.work_dir = Path(self._work.name)
        self.containment = Containment.for_run() if contain else Containment(None, None)
        self.processes: list[ManagedProcess] = []
        self._previous_sigterm = None
        self._launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-launcher")
        self._lock = threading.Lock()

    def __enter__(self) -> Harness:
        # SIGTERM (a CI cancel, a killed notebook cell) cleans up like Ctrl-C does.
        with contextlib.suppress(ValueError):  # only the main thread may set handlers
            self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._launcher.shutdown(wait=True)  # a start under way is finished, then stopped
            self.stop_all()
        finally:
            self.containment.close()  # and whatever escaped its process group
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            if self._tmp is not None:
                self._tmp.cleanup()
            self._work.cleanup()

    def start(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        env: dict | None = None,
        capabilities: tuple[str, ...] = (),
    ) -> ManagedProcess:
        """Start ``command`` in ``cwd``; contained, it may write only there and in work_dir.
        ``capabilities`` are the few a trusted program needs inside (nginx: setuid)."""
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        writable = [cwd, self.work_dir]
        wrapped = self.containment.command(
            command, cwd, writable, capabilities=capabilities, network=self.network
        )

        def launch() -> ManagedProcess:
            process = ManagedProcess(
                name,
                wrapped,
                cwd,
                full_env,
                self.log_dir,
                self.containment.in_child,
                wrapped is not command,
            )
            with self._lock:  # registered before anyone can be interrupted
                self.processes.append(process)
            return process

        process = self._launcher.submit(launch).result()
        process.pid  # noqa: B018 - learn the wrapped program's pid while it surely runs
        return process

    def stop_process(self, process: ManagedProcess) -> None:
        process.stop()
        with self._lock:
            if process in self.processes:
                self.processes.remove(process)

    def scope(self) -> Scope:
        """A set of processes started and stopped together, e.g. one stage's stack."""
        return Scope(self)

    def stop_all(self) -> None:
        with _signals_deferred():
            while self.processes:
                with self._lock:
                    process = self.processes.pop()
                process.stop()


def wait_until(
    ready: Callable[[], bool],
    process: ManagedProcess,
    what: str,
    timeout: float | None = None,
) -> None:
    """Poll ``ready`` until it holds; fail clearly if the process dies or time runs out."""
    timeout = settings.APP_START_TIMEOUT if timeout is None else timeout
    if poll_until(ready, timeout, give_up=lambda: process.exited() is not None):
        return
    code = process.exited()
    if code is not None:
        raise StartError(
            f"{process.name} exited with code {code} before {what}.\n"
            f"Its last output:\n{_indent(process.log_tail())}"
        )
    raise StartError(
        f"{process.name} did not get to {what} within {timeout:.0f} s.\n"
        f"Its last output:\n{_indent(process.log_tail())}"
    )


class Launcher(Protocol):
    """What starts processes for a stage: the Harness itself, or one of its Scopes."""

    @property
    def work_dir(self) -> Path: ...

    def start(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        env: dict | None = None,
        capabilities: tuple[str, ...] = (),
    ) -> ManagedProcess: ...

    def stop_process(self, process: ManagedProcess) -> None: ...


class Scope:
    """Processes that belong together (a stage's stack, or what one check starts on the side).

    The Harness owns each of them; stopping the scope stops them all, newest first. A start
    that fails part-way needs no rollback of its own: whoever made the scope stops it.
    """

    def __init__(self, harness: Harness):
        self.harness = harness
        self.processes: list[ManagedProcess] = []

    @property
    def work_dir(self) -> Path:
        return self.harness.work_dir

    def start(
        self,
        name: str,
        command: list[str],
        cwd: Path,
        env: dict | None = None,
        capabilities: tuple[str, ...] = (),
    ) -> ManagedProcess:
        process = self.harness.start(name, command, cwd, env, capabilities)
        self.processes.append(process)
        return process

    def stop_process(self, process: ManagedProcess) -> None:
        self.harness.stop_process(process)
        if process in self.processes:
            self.processes.remove(process)

    def stop(self) -> None:
        while self.processes:
            self.harness.stop_process(self.processes.pop())

    def exited(self) -> ManagedProcess | None:
        """The first of its processes that is no longer running, if any."""
        return next((p for p in self.processes if p.exited() is not None), None)


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.splitlines())


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Let a second Ctrl-C wait until clean-up has finished."""
    if sys.platform == "win32":  # pragma: no cover
        yield
        return
    pending = []
    handler = lambda signum, frame: pending.append(signum)  # noqa: E731
    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if pending:
            raise KeyboardInterrupt
