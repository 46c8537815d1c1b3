"""The three servers the bench compares, each started as it ships, on a fresh private Redis:

  node              bench/node/server.js: Node socket.io 4.8 with the Redis adapter
  gevent-websocket  gunicorn wsgi:app in solutions/04_production (.venv): its gunicorn.conf.py
                    picks GeventWebSocketWorker
  simple-websocket  the same in .venv-simple-websocket: gunicorn -k gevent + simple-websocket

The shipped configuration means solutions/04_production/gunicorn.conf.py as it is (one worker,
its worker_connections) and production settings (APP_CONFIG=production, PING_INTERVAL 25 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psutil

from autograder.harness import Launcher, ManagedProcess, free_port
from autograder.paths import SOLUTIONS
from autograder.production import start_gunicorn
from autograder.stages.common import chat_tokens
from autograder.stages.lesson04 import TOKENS, origins_for, production_env
from autograder.venvs import simple_websocket_venv

from .reference import start_node

STAGE = SOLUTIONS / "04_production"
SERVERS = ["node", "gevent-websocket", "simple-websocket"]
COURSE_SERVERS = SERVERS[1:]
PING_INTERVAL = "25"  # the shipped default (Config.PING_INTERVAL), not the tests' short one


@dataclass
class Server:
    name: str
    url: str
    process: ManagedProcess
    holder: psutil.Process  # the process that holds the connections (gunicorn's worker)
    env: dict  # what it was started with (a worker needs its SECRET_KEY to sign)


def database_folder(launcher: Launcher) -> Path:
    """SQLite in memory-backed /dev/shm where there is one: the disk is not what we measure."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() else launcher.log_dir


def start_server(launcher: Launcher, name: str, redis_url: str, stage: Path = STAGE) -> Server:
    port = free_port()
    if name == "node":
        env = {
            "REDIS_URL": redis_url,
            "CHAT_TOKENS": chat_tokens(TOKENS),
            "PING_INTERVAL": PING_INTERVAL,
        }
        url, process = start_node(launcher, env, port)
        return Server(name, url, process, psutil.Process(process.pid), env)
    database = database_folder(launcher) / f"bench-{port}.sqlite3"
    env = production_env(
        launcher,
        redis_url,
        origins_for(port),
        DATABASE_URL=f"sqlite:///{database}",
        PING_INTERVAL=PING_INTERVAL,
    )
    venv = {"venv_bin": simple_websocket_venv()} if name == "simple-websocket" else {}
    url, process = start_gunicorn(launcher, stage, env, port=port, name=name, **venv)
    (worker,) = psutil.Process(process.pid).children()
    return Server(name, url, process, worker, env)


def remove_database(server: Server) -> None:
    """The SQLite files a course server left in /dev/shm (the log folder cleans itself)."""
    port = server.url.rsplit(":", 1)[1]
    for leftover in Path("/dev/shm").glob(f"bench-{port}.sqlite3*"):
        leftover.unlink(missing_ok=True)
