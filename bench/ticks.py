"""Worker → client latency: a Celery task emits through Redis, as lesson 03/04's tasks do.

The task runs in a real Celery worker (`celery -A bench.ticks:celery_app worker`) and emits
with a write-only SocketIO on the stage's own signed queue (BENCH_STAGE/signed_queue.py, keyed
by the server's SECRET_KEY), exactly like tasks.emit_to_room in the course app, to one client's
own room (its sid) on /chat. Each "tick" carries the worker's
time.time(); the client subtracts it from its own clock on arrival (same machine, same clock).
Node's Redis adapter speaks another format than python-socketio's queue, so a Celery task
cannot reach the Node server: this measure is the course servers' only.
"""

from __future__ import annotations

import importlib.util
import os
import time
from functools import cache
from pathlib import Path

from celery import Celery
from flask_socketio import SocketIO

celery_app = Celery("bench_ticks", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
celery_app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)
TASK = "bench.ticks.emit_ticks"


@cache
def write_only_socketio(redis_url: str) -> SocketIO:
    """The stage's server drops unsigned messages, so the worker signs them as the app does."""
    path = Path(os.environ["BENCH_STAGE"]) / "signed_queue.py"
    spec = importlib.util.spec_from_file_location("bench_signed_queue", path)
    signed_queue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(signed_queue)
    channel = os.environ.get("SOCKETIO_CHANNEL") or signed_queue.CHANNEL
    manager = signed_queue.SignedRedisManager(
        redis_url, os.environ["SECRET_KEY"], write_only=True, channel=channel
    )
    socketio = SocketIO()
    socketio.init_app(None, client_manager=manager)  # write-only: no app, no clients
    return socketio


@celery_app.task(name=TASK)
def emit_ticks(sid: str, namespace: str, count: int, interval: float) -> None:
    socketio = write_only_socketio(celery_app.conf.broker_url)
    for seq in range(count):
        socketio.emit("tick", {"seq": seq, "sent_at": time.time()}, to=sid, namespace=namespace)
        time.sleep(interval)


def queue_ticks(redis_url: str, sid: str, namespace: str, count: int, interval: float) -> None:
    """Send the task from the bench process (a Celery client of the same broker)."""
    client = Celery("bench_ticks", broker=redis_url)
    client.send_task(TASK, args=[sid, namespace, count, interval])
