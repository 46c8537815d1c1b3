"""Lesson 03: a private Redis, ``python run.py`` and ``celery ... worker``, all on this machine."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..harness import ManagedProcess, Scope, StartError
from ..queue_listener import QueueListener
from ..services import RedisService, redis_for_run, start_celery_worker, start_redis
from . import QueueStack, Stage
from .common import CELERY_APP, app_env
from .devserver import start_dev_server

# A report takes about 0.5 s in the grader (0.8 s a step in make run): five steps of 20 %, so
# the page's bar has steps to show and a check can act after the first while four are to come.
# Each step also commits to SQLite and publishes, some 40 ms on the course machine.
REPORT_STEPS = 5
REPORT_STEP_SECONDS = 0.05
# At-least-once reports (the app's config.py explains each), scaled to these short reports: Redis
# gives a dead worker's task to another after 3 s, a silent report may be taken over after
# 1.5 s, and one no worker writes any more fails after 8 s. The app checks that a step < lease <
# visibility timeout and that the longest report < visibility timeout < abandoned.
TASK_VISIBILITY_TIMEOUT, REPORT_LEASE_SECONDS, REPORT_ABANDONED_AFTER = 3.0, 1.5, 8.0
# What a start that lost the race to create the database's tables prints (SQLite's error).
TABLES_RACE = "already exists"


def delivery_env() -> dict[str, str]:
    return {
        "TASK_VISIBILITY_TIMEOUT": str(TASK_VISIBILITY_TIMEOUT),
        "REPORT_LEASE_SECONDS": str(REPORT_LEASE_SECONDS),
        "REPORT_ABANDONED_AFTER": str(REPORT_ABANDONED_AFTER),
    }


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


class SecondServer:
    """Another web process of the stage, on the same Redis and database, for the checks about a
    second server. The grader starts it in the background once the stack is up, so no check
    waits for its start; a check that finds it gone starts it again.

    It has a scope of its own: its exit fails the checks that use it, not the whole stack."""

    def __init__(self, stack: QueueStack):
        self.stack = stack
        self.scope = Scope(stack.scope.harness)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="second-server")
        self._start: Future | None = None

    def _run(self) -> tuple[str, ManagedProcess]:
        stack = self.stack
        return start_dev_server(self.scope, stack.stage_dir, "run.py", env=stack.env, name="app-2")

    def start_soon(self) -> None:
        with self._lock:
            if self._start is None:
                self._start = self._pool.submit(self._run)

    def url(self) -> str:
        """Its URL once it answers (StartError if it did not come up)."""
        with self._lock:
            start = self._start
            gone = (
                start is not None
                and start.done()
                and start.exception() is None
                and start.result()[1].exited() is not None
            )
            if start is None or gone:
                if gone:
                    self.scope.stop_process(start.result()[1])
                start = self._start = self._pool.submit(self._run)
        return start.result()[0]

    def stop(self) -> None:
        # A start under way is not waited for: what it starts is stopped with the harness.
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.scope.stop()


@dataclass
class Lesson03Stack(QueueStack):
    second: SecondServer | None = None

    def stop(self) -> None:
        if self.second is not None:
            self.second.stop()
            self.second = None
        super().stop()


def _drop_dead(scope: Scope, name: str) -> None:
    """Forget a process of ``scope`` that exited while it started (a lost race)."""
    for process in list(scope.processes):
        if process.name == name and process.exited() is not None:
            scope.stop_process(process)


def start_with(scope: Scope, stage_dir: Path, redis: RedisService, env: dict) -> Lesson03Stack:
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
    return Lesson03Stack(url, stage_dir, scope, app, env, redis=redis, worker=worker)


def start(scope: Scope, stage_dir: Path) -> Lesson03Stack:
    redis = start_redis(scope)
    stack = start_with(scope, stage_dir, redis, grading_env(scope, redis.url))
    stack.listener = QueueListener(redis.url).start()  # where an event was lost
    stack.second = SecondServer(stack)
    stack.second.start_soon()
    return stack


def serve(scope: Scope, stage_dir: Path) -> Lesson03Stack:
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


def second_server_url(stack: QueueStack) -> str:
    """The URL of another web process of the same stage (shared Redis and database); started
    now if the stack has none running."""
    if not isinstance(stack, Lesson03Stack) or stack.second is None:
        raise StartError("this stack has no second web server (only the grader's start has one)")
    return stack.second.url()


STAGE = Stage("03", start, serve)
