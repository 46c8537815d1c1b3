"""Lesson 04's scale-out claims with real gunicorn and Redis: `-w N` on the command line is
seen by the app (it refuses polling on several workers), the threaded worker holds one client
per thread and no more, and apps sharing a Redis are kept apart by their channel, never by the
database number in REDIS_URL."""

import time
import uuid

import pytest
import requests

from autograder.client import Probe
from autograder.harness import Harness, free_port, wait_until
from autograder.paths import SOCKETIO_CLIENT_DIST, SOLUTIONS, VENV_BIN
from autograder.readiness import ENGINEIO_HANDSHAKE, engineio_ready
from autograder.services import start_redis
from autograder.stages.common import CHAT, NOTIFICATIONS
from autograder.stages.lesson04 import TOKENS, origins_for, production_env
from autograder.waiting import poll_until

STAGE = SOLUTIONS / "04_production"
THREADS = 4
DROPPED = "dropped a queue message without our signature"

pytestmark = pytest.mark.slow


def gunicorn(harness: Harness, env: dict, *arguments: str, name: str = "web", wait=True):
    port = int(env["PORT"])
    command = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    process = harness.start(name, [*command, *arguments, "wsgi:app"], STAGE, env)
    url = f"http://127.0.0.1:{port}"
    if wait:
        wait_until(engineio_ready(url), process, f"answer on {url}")
    return url, process


def app_env(harness: Harness, redis_url: str, **extra: str) -> dict:
    port = free_port()
    env = production_env(harness, redis_url, origins_for(port), **extra)
    return {**env, "PORT": str(port), "SOCKETIO_CLIENT_DIST": str(SOCKETIO_CLIENT_DIST)}


def test_workers_from_the_command_line_reach_the_app(tmp_path):
    with Harness(log_dir=tmp_path) as harness:
        redis = start_redis(harness)
        env = app_env(harness, redis.url)
        _, process = gunicorn(harness, env, "-w", "3", wait=False)
        assert poll_until(lambda: process.exited() is not None, 30), "it kept running"
        output = process.log_tail(60)
        assert "Refusing to start: WEB_CONCURRENCY=3" in output, output
        assert "SOCKETIO_TRANSPORTS=websocket" in output


def test_the_threaded_worker_holds_one_websocket_per_thread(tmp_path):
    with Harness(log_dir=tmp_path) as harness:
        redis = start_redis(harness)
        env = app_env(harness, redis.url, GUNICORN_WORKER_CLASS="gthread", LOG_LEVEL="INFO")
        url, process = gunicorn(harness, env, "--threads", str(THREADS))
        assert "async_mode=threading" in process.log_tail(20)
        auth = {"token": TOKENS["alice"]}
        held = [Probe(url, namespaces=[CHAT], auth=auth).connect() for _ in range(THREADS)]
        assert all(p.sio.transport() == "websocket" for p in held)
        started = time.monotonic()
        with pytest.raises(AssertionError, match="could not connect"):  # CheckFailed
            Probe(url, namespaces=[CHAT], auth=auth).connect(timeout=2)
        assert time.monotonic() - started >= 2, "client N+1 was refused, not kept waiting"
        held.pop().disconnect()  # a thread comes free: the next client gets in
        wait_until(
            lambda: Probe(url, namespaces=[CHAT], auth=auth).connect(timeout=2), process, "a thread"
        )
        for probe in held:
            probe.disconnect()
        answer = requests.get(url + ENGINEIO_HANDSHAKE, timeout=5)
        assert answer.status_code == 200, "one process: long-polling is served"


def broadcast_reaches(sender: Probe, listener: Probe) -> bool:
    text = f"channel test {uuid.uuid4().hex[:6]}"
    sender.call("send_message", {"text": text}, namespace=CHAT)
    try:
        listener.expect("message", namespace=CHAT, timeout=1.5, where=lambda d: d["text"] == text)
        return True
    except AssertionError:
        return False


def test_apps_on_one_redis_are_apart_by_channel_not_by_database_number(tmp_path):
    with Harness(log_dir=tmp_path) as harness:
        redis = start_redis(harness)
        base = redis.url.rsplit("/", 1)[0]
        # Two apps (different secrets, databases) whose REDIS_URLs name different databases.
        first_env = app_env(harness, f"{base}/0")
        second_env = app_env(harness, f"{base}/1")
        first, _ = gunicorn(harness, first_env, name="first")
        second, second_process = gunicorn(harness, second_env, name="second")
        auth = {"token": TOKENS["alice"]}
        sender = Probe(first, namespaces=[CHAT, NOTIFICATIONS], auth=auth).connect()
        listener = Probe(second, namespaces=[CHAT], auth=auth).connect()
        assert not broadcast_reaches(sender, listener)  # the signature drops it
        assert poll_until(lambda: DROPPED in second_process.log_tail(40), 5)
        # Pub/sub ignored the database number: the second app read the first one's message.

        third_env = app_env(harness, f"{base}/1", SOCKETIO_CHANNEL="third-app")
        third, third_process = gunicorn(harness, third_env, name="third")
        watcher = Probe(third, namespaces=[CHAT], auth=auth).connect()
        assert not broadcast_reaches(sender, watcher)
        time.sleep(0.5)
        assert DROPPED not in third_process.log_tail(40), "its own channel: nothing to drop"
        for probe in (sender, listener, watcher):
            probe.disconnect()
