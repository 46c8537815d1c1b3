"""Lesson 04's limits fail fast, with a real gunicorn (gevent-websocket worker) and Redis: at
the connection limit a new client is refused within 2 s while /healthz and the clients already
connected are served; a descriptor limit below worker_connections is named at start and ends
in quick refusals, not "Too many open files" (connection_budget.py, gunicorn.conf.py)."""

import time

import pytest
import requests
import socketio
import websocket

from autograder.client import Probe
from autograder.harness import Harness, free_port, wait_until
from autograder.paths import SOCKETIO_CLIENT_DIST, SOLUTIONS, VENV_BIN
from autograder.production import start_gunicorn
from autograder.readiness import engineio_ready
from autograder.services import start_redis
from autograder.stages.common import CHAT
from autograder.stages.lesson04 import TOKENS, origins_for, production_env

pytestmark = pytest.mark.slow
STAGE = SOLUTIONS / "04_production"
REFUSED_WITHIN = 2.0


def hold_websockets(url: str, most: int) -> tuple[list, float | None]:
    """Open raw Engine.IO websockets until one is refused (or ``most``): (those held, seconds
    the refusal took)."""
    address = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    held = []
    for _ in range(most):
        started = time.monotonic()
        try:
            connection = websocket.create_connection(address, timeout=REFUSED_WITHIN + 3)
            if str(connection.recv()).startswith("0"):  # the Engine.IO open packet
                held.append(connection)
                continue
        except (websocket.WebSocketException, OSError):
            pass
        return held, time.monotonic() - started
    return held, None


def refused_socketio_client(url: str) -> float:
    """Seconds until a python-socketio client (websocket) is refused; fails if it connects."""
    client = socketio.Client(reconnection=False)
    started = time.monotonic()
    # A websocket closed before Engine.IO's open packet makes python-engineio's client raise
    # ValueError ("Invalid empty packet received") rather than ConnectionError.
    with pytest.raises((socketio.exceptions.ConnectionError, ValueError)):
        client.connect(
            url,
            namespaces=[CHAT],
            auth={"token": TOKENS["bob"]},
            transports=["websocket"],
            wait_timeout=REFUSED_WITHIN + 3,
        )
    return time.monotonic() - started


def timed(request) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = request()
    return answer, time.monotonic() - started


def test_at_the_connection_limit_new_clients_are_refused_within_2_s(record_property):
    with Harness() as harness:
        redis = start_redis(harness)
        port = free_port()
        env = production_env(harness, redis.url, origins_for(port), WORKER_CONNECTIONS="60")
        url, web = start_gunicorn(harness, STAGE, env, port=port)
        alice = Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]}).connect()
        held, refusal = hold_websockets(url, 100)
        assert refusal is not None, f"{len(held)} websockets held and none refused"
        assert refusal < REFUSED_WITHIN and len(held) < 60, (len(held), refusal)
        took = refused_socketio_client(url)
        assert took < REFUSED_WITHIN
        polling, polling_took = timed(
            lambda: requests.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=5)
        )
        assert polling.status_code == 503 and polling.headers["Retry-After"]
        assert polling_took < REFUSED_WITHIN
        health, health_took = timed(lambda: requests.get(f"{url}/healthz", timeout=5))
        assert health.status_code == 200 and health_took < 1.0
        sent = alice.call("send_message", {"text": "still served"}, namespace=CHAT)
        assert sent["ok"] is True, sent  # the clients already in keep being served
        for connection in held:
            connection.close()
        assert "new Socket.IO clients get 503" in web.log_path.read_text()
    record_property("held_at_worker_connections_60", len(held) + 1)
    record_property("refused_after_seconds", round(max(refusal, took, polling_took), 3))
    print(
        f"held {len(held) + 1}; refused in {refusal:.3f} s (raw websocket), {took:.3f} s "
        f"(python-socketio), {polling_took:.3f} s (polling 503); /healthz {health_took:.3f} s"
    )


def test_a_descriptor_limit_below_worker_connections_is_named_and_refused_fast():
    with Harness() as harness:
        redis = start_redis(harness)
        port = free_port()
        env = production_env(harness, redis.url, origins_for(port), WORKER_CONNECTIONS="1000")
        command = ["prlimit", "--nofile=400:400", "--", str(VENV_BIN / "gunicorn")]
        command += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"]
        web = harness.start(
            "gunicorn-400-descriptors",
            command,
            STAGE,
            {"SOCKETIO_CLIENT_DIST": str(SOCKETIO_CLIENT_DIST), **env},
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(engineio_ready(url), web, f"answer on {url}")
        log = web.log_path.read_text()
        assert "ulimit -n is 400 (hard limit 400), below worker_connections 1000" in log, log
        held, refusal = hold_websockets(url, 400)
        assert refusal is not None and refusal < REFUSED_WITHIN, (len(held), refusal)
        health = requests.get(f"{url}/healthz", timeout=5)
        assert health.status_code == 200
        for connection in held:
            connection.close()
        assert "Too many open files" not in web.log_path.read_text()


def test_nginx_bounds_polling_requests_and_bodies_but_not_websockets():
    from autograder.production import find_nginx, start_nginx

    if find_nginx() is None:
        pytest.skip("nginx is not installed")
    with Harness() as harness:
        redis = start_redis(harness)
        web_port, nginx_port = free_port(), free_port()
        env = production_env(harness, redis.url, origins_for(web_port, nginx_port))
        web_url, _ = start_gunicorn(harness, STAGE, env, port=web_port)
        url, _ = start_nginx(harness, STAGE, [web_url], port=nginx_port)
        polling = f"{url}/socket.io/?EIO=4&transport=polling"

        too_big = requests.post(f"{polling}&sid=x", data="4" + "x" * 70_000, timeout=5)
        assert too_big.status_code == 413  # client_max_body_size, before any instance sees it
        statuses = [requests.get(polling, timeout=5).status_code for _ in range(80)]
        assert 429 in statuses and statuses[:40].count(200) == 40, statuses
        with Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]}) as websocket_client:
            assert websocket_client.sio.transport() == "websocket"  # upgrades are not limited
        time.sleep(2.5)  # 20 a second come back
        polling_client = Probe(
            url, namespaces=[CHAT], auth={"token": TOKENS["bob"]}, transports=["polling"]
        ).connect()
        sent = polling_client.call("send_message", {"text": "by polling"}, namespace=CHAT)
        assert sent["ok"] is True, sent
        polling_client.disconnect()
