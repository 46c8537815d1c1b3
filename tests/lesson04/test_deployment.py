"""Lesson 04's deployment claims, with real gunicorn, nginx and Redis: polling needs ip_hash
behind nginx (websocket does not), SIGTERM disconnects clients at once, run_gevent.py works."""

import os
import re
import signal
import sys
import time

import pytest
import requests

from autograder.client import Probe
from autograder.harness import Harness, free_port, wait_until
from autograder.paths import SOCKETIO_CLIENT_DIST, SOLUTIONS
from autograder.production import find_nginx, start_gunicorn
from autograder.readiness import http_ok
from autograder.services import start_redis
from autograder.stages import lesson04
from autograder.stages.common import CHAT, NOTIFICATIONS
from autograder.stages.lesson04 import TOKENS, origins_for, production_env

STAGE = SOLUTIONS / "04_production"
# The site allows one address 20 polling requests a second, bursts of 40 (limit_req), and
# every client here comes from 127.0.0.1: six clients at full speed ran into its 429 at times.
POLLING_CLIENTS = 4
PAUSE_BETWEEN_CLIENTS = 0.5  # seconds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed"),
]


def instances_reached(url: str, transports: list[str]) -> tuple[set, list[str]]:
    """Connect up to POLLING_CLIENTS clients one after another: the instances that served
    them, and the first failure."""
    pids, failures = set(), []
    for number in range(POLLING_CLIENTS):
        probe = Probe(
            url,
            namespaces=[CHAT, NOTIFICATIONS],
            auth={"token": TOKENS["alice"]},
            transports=transports,
            name=f"client {number}",
        )
        try:
            probe.connect(timeout=6)  # polling through nginx: slow when the machine is busy
            pids.add(probe.expect("welcome", namespace=NOTIFICATIONS)["pid"])
            probe.call("send_message", {"text": f"polling {number}"}, namespace=CHAT)
        except AssertionError as error:
            failures.append(str(error))
            break  # one failure shows it; each waits for its time limit
        finally:
            probe.disconnect()
        time.sleep(PAUSE_BETWEEN_CLIENTS)
    return pids, failures


@pytest.mark.parametrize("sticky", [True, False], ids=["ip_hash", "round-robin"])
def test_polling_behind_nginx_needs_ip_hash(sticky):
    with Harness() as harness:
        redis = start_redis(harness)
        app = lesson04.start_with(harness.scope(), STAGE, redis, sticky=sticky)
        polling_pids, polling_failures = instances_reached(app.url, ["polling"])
        websocket_pids, websocket_failures = instances_reached(app.url, ["websocket"])
    assert not websocket_failures  # websocket-only needs no stickiness
    if sticky:
        assert not polling_failures and len(polling_pids) == 1  # one address, one instance
    else:
        # Round-robin sends a session's next poll to the instance that never saw it.
        assert polling_failures, f"polling worked without stickiness on {polling_pids}"
        assert len(websocket_pids) == 2


def test_sigterm_disconnects_clients_then_exits_quickly():
    with Harness() as harness:
        redis = start_redis(harness)
        port = free_port()
        env = production_env(
            harness, redis.url, origins_for(port), GRACEFUL_TIMEOUT="10", LOG_LEVEL="INFO"
        )
        url, process = start_gunicorn(harness, STAGE, env, port=port)
        probe = Probe(url, namespaces=[CHAT], auth={"token": TOKENS["bob"]}).connect()
        disconnected = []
        probe.sio.on(
            "disconnect", lambda *reason: disconnected.append(time.monotonic()), namespace=CHAT
        )
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)  # gunicorn's master, as a service manager would
        process.popen.wait(timeout=15)
        exited = time.monotonic() - started
        assert disconnected and disconnected[0] - started < 2.0, "not told to go at once"
        assert exited < 5.0, f"gunicorn took {exited:.1f} s: it waited for the websocket"
        assert re.search(r"closing \d+ Socket.IO connections", process.log_path.read_text())


def test_run_gevent_serves_websocket_after_monkey_patching():
    with Harness() as harness:
        redis = start_redis(harness)
        port = free_port()
        env = production_env(harness, redis.url, origins_for(port), HOST="127.0.0.1")
        env.update(PORT=str(port), SOCKETIO_CLIENT_DIST=str(SOCKETIO_CLIENT_DIST))
        process = harness.start("run_gevent", [sys.executable, "run_gevent.py"], STAGE, env)
        url = f"http://127.0.0.1:{port}"
        wait_until(http_ok(url + "/healthz"), process, "answer /healthz")
        health = requests.get(url + "/healthz", timeout=5).json()
        assert health["async_mode"] == "gevent" and health["redis"] is True
        with Probe(url, namespaces=[CHAT], auth={"token": TOKENS["carol"]}) as probe:
            assert probe.sio.transport() == "websocket"
