"""`make run-simple-websocket`: lesson 04 on `gunicorn -k gevent` with simple-websocket.

The maintained alternative to gevent-websocket, in its own virtualenv (.venv-simple-websocket)
because engine.io uses gevent-websocket whenever it is installed. The stage's gunicorn.conf.py
picks the plain gevent worker there by itself. The Celery worker runs from the course's venv.

python -m autograder.checks.lesson04_simple_websocket [--solution] [--venv-only]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..apps import RunningApp
from ..harness import Harness, StartError, free_port
from ..paths import LESSONS, SOLUTIONS, stage_dir_name
from ..production import simple_websocket_venv, start_gunicorn
from ..services import redis_for_run, start_celery_worker
from .lesson04 import CELERY_APP, origins_for, production_env

REQUIREMENTS = "requirements-simple-websocket.txt"


def start_simple_websocket(harness: Harness, stage_dir: Path, redis) -> RunningApp:
    venv_bin = simple_websocket_venv(stage_dir / REQUIREMENTS)
    port = free_port()
    env = production_env(harness, redis.url, origins_for(port), LOG_LEVEL="INFO")
    url, process = start_gunicorn(
        harness, stage_dir, env, venv_bin=venv_bin, name="gunicorn-simple-websocket", port=port
    )
    worker = start_celery_worker(harness, stage_dir, CELERY_APP, env)
    owned = [worker, *([redis.process] if redis.process else [])]
    return RunningApp(url, process, stage_dir, {"processes": owned, "env": env})


def main(argv: list[str] | None = None) -> int:
    from ..serve import serve_until_interrupted

    parser = argparse.ArgumentParser(prog="make run-simple-websocket", description=__doc__)
    parser.add_argument("--solution", action="store_true", help="run the reference app")
    parser.add_argument("--venv-only", action="store_true", help="only make the virtualenv")
    args = parser.parse_args(argv)
    stage_dir = (SOLUTIONS if args.solution else LESSONS) / stage_dir_name("04")
    if args.venv_only:
        try:
            print(f"{simple_websocket_venv(stage_dir / REQUIREMENTS).parent} is ready.")
        except StartError as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    return serve_until_interrupted(
        lambda harness: start_simple_websocket(harness, stage_dir, redis_for_run(harness))
    )


if __name__ == "__main__":
    sys.exit(main())
