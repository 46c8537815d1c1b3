"""Why the source design emitted with include_self=False, skip_sid='testing' from its worker,
and why plain to=room from a write-only SocketIO is all a worker needs. Real Redis pub/sub."""

import json

import pytest
import redis
from flask_socketio import SocketIO

from autograder.harness import Harness
from autograder.services import start_redis

CHANNEL = "flask-socketio"  # Flask-SocketIO's default channel on the queue


@pytest.fixture
def queue():
    with Harness() as harness:
        service = start_redis(harness)
        subscriber = redis.Redis.from_url(service.url).pubsub()
        subscriber.subscribe(CHANNEL)
        assert subscriber.get_message(timeout=3)["type"] == "subscribe"
        yield service.url, subscriber
        subscriber.close()


def published(subscriber) -> dict:
    message = subscriber.get_message(timeout=3)
    assert message is not None and message["type"] == "message", message
    return json.loads(message["data"])


def test_include_self_false_needs_a_request_a_worker_does_not_have(queue):
    url, _ = queue
    worker = SocketIO(message_queue=url)
    with pytest.raises(RuntimeError, match="outside of request context"):
        worker.emit("progress", {"percent": 10}, to="report:a:1", include_self=False)


def test_the_hack_skips_a_sid_nobody_has(queue):
    url, subscriber = queue
    worker = SocketIO(message_queue=url)
    worker.emit(
        "progress", {"percent": 10}, room="report:a:1", include_self=False, skip_sid="testing"
    )
    message = published(subscriber)
    assert message["skip_sid"] == "testing" and message["room"] == "report:a:1"


def test_a_write_only_instance_emits_to_the_room_with_nothing_to_skip(queue):
    url, subscriber = queue
    worker = SocketIO(message_queue=url)
    assert worker.server.manager.write_only
    worker.emit("progress", {"percent": 10}, to="report:a:1", namespace="/reports")
    message = published(subscriber)
    assert message["room"] == "report:a:1" and message["namespace"] == "/reports"
    assert message["skip_sid"] is None
    assert (message["event"], message["data"]) == ("progress", [{"percent": 10}])
