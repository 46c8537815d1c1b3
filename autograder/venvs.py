"""The virtualenvs besides .venv that the course makes, from the same lock (uv.lock).

.venv-simple-websocket holds lesson 04's app without gevent-websocket: engine.io uses
gevent-websocket whenever it can import it, and then `gunicorn -k gevent` loses websocket.

    python -m autograder.venvs simple-websocket     (make venv-simple-websocket)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .failures import StartError
from .paths import COURSE_ROOT, SIMPLE_WEBSOCKET_VENV, UV

LOCK = COURSE_ROOT / "uv.lock"
SIMPLE_WEBSOCKET_EXTRAS = ["lesson04"]  # lesson 04's app; gevent-websocket is an extra of its own
INSTALL_TIME_LIMIT = 600.0


def sync(venv: Path, extras: list[str], out=None) -> Path:
    """Make ``venv`` hold exactly the locked packages of ``extras``; its bin/ folder."""
    venv_bin = venv / "bin"
    stamp = venv / ".synced"
    sources = [LOCK, COURSE_ROOT / "pyproject.toml"]
    if stamp.is_file() and all(s.stat().st_mtime <= stamp.stat().st_mtime for s in sources):
        return venv_bin
    if not UV.exists():
        raise StartError(f"uv is not installed at {UV}: run `make setup` first.")
    print(f"==> {venv.name}: {', '.join(extras)} from uv.lock", file=out or sys.stdout, flush=True)
    command = [str(UV), "sync", "--frozen", "--no-install-project", "--compile-bytecode"]
    command += ["--python", sys.executable]
    command += [arg for extra in extras for arg in ("--extra", extra)]
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    try:
        done = subprocess.run(
            command,
            cwd=COURSE_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIME_LIMIT,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise StartError(f"could not make {venv}: {error}") from error
    if done.returncode != 0:
        raise StartError(f"could not make {venv} ({' '.join(command)}):\n{done.stderr[-2000:]}")
    stamp.touch()
    return venv_bin


def simple_websocket_venv(out=None) -> Path:
    """The bin/ of .venv-simple-websocket, made or brought up to date from the lock."""
    venv_bin = sync(SIMPLE_WEBSOCKET_VENV, SIMPLE_WEBSOCKET_EXTRAS, out)
    has_gevent_websocket = subprocess.run(
        [str(venv_bin / "python"), "-c", "import geventwebsocket"], capture_output=True
    )
    if has_gevent_websocket.returncode == 0:
        raise StartError(f"{SIMPLE_WEBSOCKET_VENV} has gevent-websocket: remove the folder.")
    return venv_bin


VENVS = {"simple-websocket": simple_websocket_venv}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.venvs", description=__doc__)
    parser.add_argument("which", choices=sorted(VENVS))
    args = parser.parse_args(argv)
    try:
        print(f"{VENVS[args.which]().parent} is ready.")
    except StartError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
