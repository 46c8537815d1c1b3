"""Starts and stops the real processes a stage needs, and always cleans them up.

Every process runs in its own process group (so its children go with it), is told to
die with the grader (PR_SET_PDEATHSIG), and is stopped on exit, on failure and on Ctrl-C.
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
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from . import settings

PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A process the stage needs did not come up; the message is for the student."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """One child process with its output in a log file."""

    def __init__(self, name: str, command: list[str], cwd: Path, env: dict, log_dir: Path):
        self.name = name
        self.command = command
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, lines: int = settings.LOG_TAIL_LINES) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").rstrip().splitlines()
        return "\n".join(text[-lines:]) or "(it printed nothing)"

    def stop(self, grace: float = settings.STOP_GRACE) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # The group may outlive its leader (a worker the leader forked): finish it too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()


class Harness:
    """Owns every process a grading run starts. Use it as a context manager."""

    def __init__(self, log_dir: Path | None = None):
        self._tmp = None if log_dir else tempfile.TemporaryDirectory(prefix="autograder-")
        self.log_dir = log_dir or Path(self._tmp.name)
        self.processes: list[ManagedProcess] = []
        self._previous_sigterm = None

    def __enter__(self) -> Harness:
        # SIGTERM (a CI cancel, a killed notebook cell) cleans up like Ctrl-C does.
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_all()
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        if self._tmp is not None:
            self._tmp.cleanup()

    def start(self, name: str, command: list[str], cwd: Path, env: dict | None = None):
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        process = ManagedProcess(name, command, cwd, full_env, self.log_dir)
        self.processes.append(process)
        return process

    def stop(self, process: ManagedProcess) -> None:
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        with _signals_deferred():
            while self.processes:
                self.processes.pop().stop()


def wait_until(
    ready: Callable[[], bool],
    process: ManagedProcess,
    what: str,
    timeout: float = settings.APP_START_TIMEOUT,
) -> float:
    """Poll ``ready`` until it holds; fail clearly if the process dies or time runs out."""
    started = time.monotonic()
    while True:
        code = process.exited()
        if code is not None:
            raise StartError(
                f"{process.name} exited with code {code} before {what}.\n"
                f"Its last output:\n{_indent(process.log_tail())}"
            )
        with contextlib.suppress(Exception):
            if ready():
                return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise StartError(
                f"{process.name} did not get to {what} within {timeout:.0f} s.\n"
                f"Its last output:\n{_indent(process.log_tail())}"
            )
        time.sleep(0.1)


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: requests.get(url, timeout=1).status_code < 500


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
