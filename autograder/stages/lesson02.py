"""Lesson 02: ``python run.py`` with a private SQLite database and the grader's users."""

from __future__ import annotations

from pathlib import Path

from ..harness import Scope
from . import Stack, Stage
from .common import app_env
from .devserver import start_dev_server

APP_POOL_TIMEOUT = 3.0  # seconds a connect may wait for a pooled DB connection


def start(scope: Scope, stage_dir: Path, pool_timeout: float = APP_POOL_TIMEOUT) -> Stack:
    env = app_env(scope, "02", DB_POOL_TIMEOUT=str(pool_timeout))
    url, app = start_dev_server(scope, stage_dir, "run.py", env=env)
    return Stack(url, stage_dir, scope, app, env)


STAGE = Stage("02", start)
