"""Lesson 04: two gunicorn instances on gevent, a Celery worker, Redis, and nginx in front.

Everything runs as a deployment would: `gunicorn wsgi:app` in the stage folder (it reads the
stage's gunicorn.conf.py), the stage's own nginx site file, `celery ... worker`.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..harness import Launcher, ManagedProcess, Scope, free_port
from ..production import find_nginx, start_gunicorn, start_nginx
from ..queue_listener import DEFAULT_CHANNEL, QueueListener
from ..services import RedisService, redis_for_run, start_celery_worker, start_redis
from ..venvs import simple_websocket_venv
from . import Instance, ProductionStack, Stage
from .common import CELERY_APP, app_env, chat_tokens, delivery_env
from .common import TOKENS as DEV_TOKENS

REPORT_STEPS, REPORT_STEP_SECONDS = 5, 0.2
# Production refuses the development tokens (and any shorter than 16 characters): the grader's
# users get fresh random ones, for this run only, as a deployment would.
TOKENS = {user: f"{user}-{secrets.token_urlsafe(16)}" for user in DEV_TOKENS}


def origins_for(*ports: int) -> list[str]:
    return [f"http://{host}:{port}" for port in ports for host in ("127.0.0.1", "localhost")]


def production_env(scope: Launcher, redis_url: str, origins: list[str], **extra: str) -> dict:
    """What a deployment sets: a fresh random secret, random tokens, explicit origins, Redis,
    a database."""
    settings = {
        "APP_CONFIG": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "CORS_ALLOWED_ORIGINS": ",".join(origins),
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "CHAT_TOKENS": chat_tokens(TOKENS),
    }
    return app_env(scope, "04", **{**settings, **extra})


def start_with(
    scope: Scope,
    stage_dir: Path,
    redis: RedisService,
    sticky: bool,
    need_nginx: bool = True,
    extra_env: dict | None = None,
    web2_env: dict | None = None,
) -> ProductionStack:
    """web1 and web2 (gunicorn), the Celery worker, and nginx in front of both; ``web2_env``
    changes web2's environment only.

    ``sticky`` False comments out ip_hash: the grader's websocket-only clients need none, and
    from one address ip_hash would send them all to one instance.

    web1 first: every process of the app creates the database's tables at start
    (db.create_all()), and two doing it at once could both find a table missing and both
    create it. Once web1 answers, the tables are there: web2 and the worker start side by side.
    nginx only once both instances answer: an instance that refuses nginx's first request is
    left out for 10 s (max_fails, fail_timeout).
    """
    ports = {name: free_port() for name in ("nginx", "web1", "web2")}
    env = production_env(scope, redis.url, origins_for(*ports.values()), **(extra_env or {}))

    def instance(name: str, **changes: str) -> Instance:
        instance_env = {**env, **changes}
        return Instance(
            *start_gunicorn(scope, stage_dir, instance_env, name=name, port=ports[name])
        )

    web1 = instance("web1")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-worker") as pool:
        worker_started = pool.submit(start_celery_worker, scope, stage_dir, CELERY_APP, env)
        instances = [web1, instance("web2", **(web2_env or {}))]
        worker = worker_started.result()
    url, nginx = web1.url, None
    if need_nginx or find_nginx():
        urls = [instance.url for instance in instances]
        url, nginx = start_nginx(scope, stage_dir, urls, sticky, port=ports["nginx"])
    return ProductionStack(
        url,
        stage_dir,
        scope,
        instances[0].process,
        env,
        redis=redis,
        worker=worker,
        instances=instances,
        nginx=nginx,
    )


def start(scope: Scope, stage_dir: Path) -> ProductionStack:
    redis = start_redis(scope)
    timing = {
        "REPORT_STEPS": str(REPORT_STEPS),
        "REPORT_STEP_SECONDS": str(REPORT_STEP_SECONDS),
        **delivery_env(),
    }
    # web2 logs at INFO, as `make run` does: its "app ready: async_mode=..." line is what
    # 4.1 reads (gunicorn_runs_the_app_on_gevent), with no instance of its own to start.
    web2_env = {"LOG_LEVEL": "INFO"}
    stack = start_with(scope, stage_dir, redis, False, extra_env=timing, web2_env=web2_env)
    channel = stack.env.get("SOCKETIO_CHANNEL", DEFAULT_CHANNEL)
    # where an event was lost; the instances drop a message without the app's signature
    stack.listener = QueueListener(redis.url, channel, signed=True).start()
    return stack


def serve(scope: Scope, stage_dir: Path) -> ProductionStack:
    """`make run`: Redis (REDIS_URL if it answers), worker, two instances, and nginx with the
    site file exactly as written (ip_hash on) when nginx is installed; else web1's URL."""
    redis = redis_for_run(scope)
    extra = {"LOG_LEVEL": "INFO", "ACCESS_LOG": "1"}
    return start_with(scope, stage_dir, redis, sticky=True, need_nginx=False, extra_env=extra)


def start_instance(
    scope: Scope, stack: ProductionStack, name: str, wait: bool = True, **env_changes: str
) -> tuple[str, ManagedProcess]:
    """One more gunicorn instance of the stack's app, with some of its environment changed."""
    return start_gunicorn(
        scope, stack.stage_dir, {**stack.env, **env_changes}, name=name, wait=wait
    )


def start_workers_instance(
    scope: Scope, stack: ProductionStack, name: str, wait: bool = True, **env_changes: str
) -> tuple[str, ManagedProcess]:
    """One more gunicorn instance of the stack's app whose own origin is allowed (clients
    connect to it directly), e.g. with WEB_CONCURRENCY=3 workers sharing its port."""
    port = free_port()
    origins = f"{stack.env['CORS_ALLOWED_ORIGINS']},{','.join(origins_for(port))}"
    env = {**stack.env, "CORS_ALLOWED_ORIGINS": origins, **env_changes}
    return start_gunicorn(scope, stack.stage_dir, env, name=name, wait=wait, port=port)


def start_simple_websocket(scope: Scope, stage_dir: Path, redis: RedisService) -> ProductionStack:
    """One `gunicorn -k gevent` instance from .venv-simple-websocket (the stage's
    gunicorn.conf.py picks the plain gevent worker there by itself), and the Celery worker
    from the course's venv."""
    venv_bin = simple_websocket_venv()
    port = free_port()
    env = production_env(scope, redis.url, origins_for(port), LOG_LEVEL="INFO")
    url, web = start_gunicorn(
        scope, stage_dir, env, venv_bin=venv_bin, name="gunicorn-simple-websocket", port=port
    )
    worker = start_celery_worker(scope, stage_dir, CELERY_APP, env)
    return ProductionStack(
        url, stage_dir, scope, web, env, redis=redis, worker=worker, instances=[Instance(url, web)]
    )


def serve_simple_websocket(scope: Scope, stage_dir: Path) -> ProductionStack:
    """`make run-simple-websocket`, with Redis at REDIS_URL if it answers."""
    return start_simple_websocket(scope, stage_dir, redis_for_run(scope))


STAGE = Stage("04", start, serve)
VARIANTS = {"simple-websocket": serve_simple_websocket}
