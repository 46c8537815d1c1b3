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

from . import settings
from .failures import StartError
from .waiting import poll_until

PR_SET_PDEATHSIG = 1

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


def _die_with(parent_pid: int) -> Callable[[], None]:
    def in_child() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the grader died before prctl took effect
            os._exit(1)

    return in_child


class ManagedProcess:
    """One child process with its output in a log file."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict, log_dir: Path):
        self.name = name
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
                preexec_fn=_die_with(os.getpid()),
            )
        except OSError as error:
            self._log.close()
            raise StartError(f"could not start {name} ({' '.join(command)}): {error}") from error

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, lines: int = settings.LOG_TAIL_LINES) -> str:
        if not self._log.closed:
            self._log.flush()
        text = self.log_path.read_text(errors="replace").rstrip().splitlines()
        return "\n".join(text[-lines:]) or "(it printed nothing)"

    def stop(self, grace: float | None = None) -> None:
        stop_process_group(self.popen, grace)
        self._log.close()


def stop_process_group(popen: subprocess.Popen, grace: float | None = None) -> None:
    """SIGTERM the child's whole process group, then SIGKILL whatever is left.

    The group may outlive its leader (a worker the leader forked): it is finished off too.
    """
    grace = settings.STOP_GRACE if grace is None else grace
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, sig)
        try:
            popen.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)


class Harness:
    """Owns every process a grading run starts. Use it as a context manager."""

    def __init__(self, log_dir: Path | None = None):
        self._tmp = None if log_dir else tempfile.TemporaryDirectory(prefix="autograder-")
        self.log_dir = log_dir or Path(self._tmp.name)
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
            if self._previous_sigterm is not None:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            if self._tmp is not None:
                self._tmp.cleanup()

    def start(
        self, name: str, command: list[str], cwd: Path, env: dict | None = None
    ) -> ManagedProcess:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}

        def launch() -> ManagedProcess:
            process = ManagedProcess(name, command, cwd, full_env, self.log_dir)
            with self._lock:  # registered before anyone can be interrupted
                self.processes.append(process)
            return process

        return self._launcher.submit(launch).result()

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
    def log_dir(self) -> Path: ...

    def start(
        self, name: str, command: list[str], cwd: Path, env: dict | None = None
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
    def log_dir(self) -> Path:
        return self.harness.log_dir

    def start(
        self, name: str, command: list[str], cwd: Path, env: dict | None = None
    ) -> ManagedProcess:
        process = self.harness.start(name, command, cwd, env)
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
