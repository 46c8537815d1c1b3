"""``python app.py``: the Werkzeug development server of lessons 01-03, on a free port."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import settings
from ..harness import ManagedProcess, Scope, StartError, free_port, wait_until
from ..paths import SOCKETIO_CLIENT_DIST
from ..readiness import engineio_ready

PORT_TAKEN = "Address already in use"
ANSWER_ON_PORT = (
    "The grader started it with HOST=127.0.0.1 PORT={port} in the environment: "
    "does it read them and listen there?"
)


def start_dev_server(
    scope: Scope, stage_dir: Path, script: str, env: dict | None = None, name: str = "app"
) -> tuple[str, ManagedProcess]:
    """(its URL, its process) once Engine.IO answers; retried on another port if one was taken."""
    if not (stage_dir / script).is_file():
        raise StartError(f"There is no {script} in {stage_dir}: is this the right folder?")
    for attempt in range(1, settings.PORT_ATTEMPTS + 1):
        port = free_port()
        process = scope.start(
            name,
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
            wait_until(engineio_ready(url), process, f"answer on {url}")
            return url, process
        except StartError as error:
            still_running = process.exited() is None
            scope.stop_process(process)  # a hung start-up must not run on while the rest fail
            if PORT_TAKEN in str(error) and attempt < settings.PORT_ATTEMPTS:
                continue  # another program took the free port first: try another one
            if still_running:
                raise StartError(f"{error}\n{ANSWER_ON_PORT.format(port=port)}") from None
            raise
    raise AssertionError("unreachable")  # pragma: no cover
