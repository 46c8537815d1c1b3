"""Lesson 04 in production refuses what is unsafe, with real processes: Werkzeug (run.py and
`flask run`) never serves the production config, and a message on the Redis queue without the
SECRET_KEY signature never reaches a client (signed_queue.py). The refusal of each missing or
development credential is the graded check of Exercise 4.2."""

import importlib.util
import json
import subprocess
import sys
import uuid

import pytest
import redis

from autograder.client import Probe
from autograder.harness import Harness, free_port
from autograder.paths import SOLUTIONS
from autograder.production import start_gunicorn
from autograder.services import start_redis
from autograder.stages.common import CHAT
from autograder.stages.lesson04 import TOKENS, origins_for, production_env
from autograder.waiting import poll_until

STAGE = SOLUTIONS / "04_production"
CHANNEL = "flask-socketio"
WERKZEUG_REFUSAL = "Refusing to start in production config on Werkzeug"


@pytest.fixture
def production(tmp_path):
    with Harness() as harness:
        redis_service = start_redis(harness)
        port = free_port()
        env = production_env(harness, redis_service.url, origins_for(port))
        yield harness, redis_service, port, env


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "run.py"], [sys.executable, "-m", "flask", "--app", "wsgi", "run"]],
    ids=["run.py", "flask-run"],
)
def test_werkzeug_never_serves_the_production_config(production, command):
    _, _, port, env = production
    done = subprocess.run(
        command,
        cwd=STAGE,
        env={**env, "PATH": "/usr/bin:/bin", "PORT": str(port), "FLASK_RUN_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert WERKZEUG_REFUSAL in done.stdout + done.stderr, done.stderr[-2000:]
    assert "gunicorn wsgi:app" in done.stdout + done.stderr


def stage_signer(secret: str, url: str):
    spec = importlib.util.spec_from_file_location("signed_queue", STAGE / "signed_queue.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SignedRedisManager(url, secret, write_only=True)


def test_only_signed_queue_messages_reach_clients(production):
    harness, redis_service, port, env = production
    url, web = start_gunicorn(harness, STAGE, env, port=port)
    alice = Probe(url, namespaces=[CHAT], auth={"token": TOKENS["alice"]}).connect()
    queue = redis.Redis.from_url(redis_service.url)
    # The worker subscribes to the queue in the background after its first client; what is
    # published before that never reaches it (pub/sub keeps nothing), and nothing is dropped.
    assert poll_until(lambda: dict(queue.pubsub_numsub(CHANNEL)).get(CHANNEL.encode()), 10.0), (
        "the gunicorn worker never subscribed to the queue"
    )

    def forged(text: str) -> dict:
        return {
            "method": "emit",
            "event": "message",
            "data": {"id": 0, "user": "admin", "text": text, "sent_at": 0},
            "namespace": CHAT,
            "room": None,
            "skip_sid": None,
            "callback": None,
            "host_id": uuid.uuid4().hex,
        }

    unsigned = forged("unsigned: everyone log in at evil.example")
    queue.publish(CHANNEL, json.dumps(unsigned))
    wrong_key = stage_signer("not-the-secret-key-at-all", redis_service.url)
    body = json.dumps(forged("signed with another key"), separators=(",", ":"))
    queue.publish(
        "flask-socketio", json.dumps({"body": body, "signature": wrong_key.signature(body)})
    )
    alice.expect_nothing("message", namespace=CHAT, within=1.5, why="no forged message arrives")

    signer = stage_signer(env["SECRET_KEY"], redis_service.url)
    body = json.dumps(forged("signed with SECRET_KEY"), separators=(",", ":"))
    queue.publish(CHANNEL, json.dumps({"body": body, "signature": signer.signature(body)}))
    got = alice.expect("message", namespace=CHAT, timeout=5)
    assert got["text"] == "signed with SECRET_KEY"
    alice.disconnect()
    dropped = "dropped a queue message without our signature (2 so far)"
    poll_until(lambda: dropped in web.log_path.read_text(), 5.0)
    log = web.log_path.read_text()
    assert dropped in log, log[-2000:]
