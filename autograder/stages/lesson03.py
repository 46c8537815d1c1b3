"""Lesson 03: a private Redis, ``python run.py`` and ``celery ... worker``, all on this machine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..harness import ManagedProcess, Scope, StartError
from ..queue_listener import QueueListener
from ..services import RedisService, redis_for_run, start_celery_worker, start_redis
from . import QueueStack, Stage
from .common import CELERY_APP, app_env, delivery_env
from .devserver import start_dev_server

REPORT_STEPS = 10
REPORT_STEP_SECONDS = 0.2  # a report takes about 2 s in the grader (0.8 s a step in make run)
# What a start that lost the race to create the database's tables prints (SQLite's error).
TABLES_RACE = "already exists"


def grading_env(scope: Scope, redis_url: str) -> dict[str, str]:
    return app_env(
        scope,
        "03",
        REDIS_URL=redis_url,
        REPORT_STEPS=str(REPORT_STEPS),
        REPORT_STEP_SECONDS=str(REPORT_STEP_SECONDS),
        QUEUE_RETRY_SECONDS="20",
        **delivery_env(),
    )


def _drop_dead(scope: Scope, name: str) -> None:
    """Forget a process of ``scope`` that exited while it started (a lost race)."""
    for process in list(scope.processes):
        if process.name == name and process.exited() is not None:
            scope.stop_process(process)


def start_with(scope: Scope, stage_dir: Path, redis: RedisService, env: dict) -> QueueStack:
    """The web app and the worker, started side by side (each takes seconds to import).

    Both create the database's tables at start. When both find a table missing at once, the
    second CREATE TABLE fails and that process exits: it is started once more, now that the
    tables are there."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="app-start") as pool:
        app_start = pool.submit(start_dev_server, scope, stage_dir, "run.py", env=env)
        worker: ManagedProcess | None = None
        worker_error: StartError | None = None
        try:
            worker = start_celery_worker(scope, stage_dir, CELERY_APP, env)
        except StartError as error:
            worker_error = error
        try:
            url, app = app_start.result()
        except StartError as error:
            if TABLES_RACE not in str(error):
                raise
            url, app = start_dev_server(scope, stage_dir, "run.py", env=env)
    if worker is None:
        assert worker_error is not None
        if TABLES_RACE not in str(worker_error):
            raise worker_error
        _drop_dead(scope, "worker")
        worker = start_celery_worker(scope, stage_dir, CELERY_APP, env)
    return QueueStack(url, stage_dir, scope, app, env, redis=redis, worker=worker)


def start(scope: Scope, stage_dir: Path) -> QueueStack:
    redis = start_redis(scope)
    stack = start_with(scope, stage_dir, redis, grading_env(scope, redis.url))
    stack.listener = QueueListener(redis.url).start()  # where an event was lost
    return stack


def serve(scope: Scope, stage_dir: Path) -> QueueStack:
    """`make run`: REDIS_URL if it answers, else a private Redis; reports at their own pace."""
    redis = redis_for_run(scope)
    return start_with(scope, stage_dir, redis, {"REDIS_URL": redis.url})


def kill_worker(stack: QueueStack) -> int:
    """SIGKILL the stack's Celery worker and its children: no warm shutdown, no acknowledgement,
    as when a machine dies. Its pid."""
    worker = stack.worker
    worker.kill()
    stack.scope.stop_process(worker)  # reaps it and closes its log
    return worker.pid


def replace_worker(stack: QueueStack, name: str = "worker-2") -> ManagedProcess:
    """A new Celery worker in the stack's place, on the same Redis and database."""
    stack.worker = start_celery_worker(stack.scope, stack.stage_dir, CELERY_APP, stack.env, name)
    return stack.worker


def start_second_server(scope: Scope, stack: QueueStack) -> str:
    """Another web process of the same stage, sharing its Redis and database: its URL."""
    url, _ = start_dev_server(scope, stack.stage_dir, "run.py", env=stack.env, name="app-2")
    return url


STAGE = Stage("03", start, serve)
