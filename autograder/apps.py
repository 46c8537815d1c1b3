"""How a stage's app is started as a real process and known to be ready."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import settings
from .harness import Harness, ManagedProcess, StartError, free_port, http_ok, wait_until
from .paths import SOCKETIO_CLIENT_DIST

PORT_TAKEN = "Address already in use"
ANSWER_ON_PORT = (
    "The grader started it with HOST=127.0.0.1 PORT={port} in the environment: "
    "does it read them and listen there?"
)


@dataclass
class RunningApp:
    url: str
    process: ManagedProcess
    stage_dir: Path
    extra: dict = field(default_factory=dict)  # lesson-specific handles (redis, worker, ...)

    def alive(self) -> bool:
        return self.process.exited() is None


def start_dev_server(
    harness: Harness, stage_dir: Path, script: str = "app.py", env: dict | None = None
) -> RunningApp:
    """``python app.py`` on a free port: the Werkzeug development server of lessons 01-03."""
    if not (stage_dir / script).is_file():
        raise StartError(f"There is no {script} in {stage_dir}: is this the right folder?")
    for attempt in range(1, settings.PORT_ATTEMPTS + 1):
        port = free_port()
        process = harness.start(
            "app",
            [sys.executable, script],
            cwd=stage_dir,
            env={
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "SOCKETIO_CLIENT_DIST": str(SOCKETIO_CLIENT_DIST),
                **(env or {}),
            },
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(
                http_ok(f"{url}/socket.io/?EIO=4&transport=polling"), process, f"answer on {url}"
            )
            return RunningApp(url, process, stage_dir)
        except StartError as error:
            still_running = process.exited() is None
            harness.stop(process)  # a hung start-up must not keep running while the rest fail
            if PORT_TAKEN in str(error) and attempt < settings.PORT_ATTEMPTS:
                continue  # another program took the free port first: try another one
            if still_running:
                raise StartError(f"{error}\n{ANSWER_ON_PORT.format(port=port)}") from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover
