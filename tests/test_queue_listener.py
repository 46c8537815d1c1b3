"""The grader's listener on the Socket.IO message queue, against a real redis-server: it sees
what python-socketio publishes (plain in lesson 03, signed in lesson 04) and says where an event
went when a client did not get it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import socketio

from autograder.harness import Harness, ManagedProcess
from autograder.queue_listener import (
    IN_FLIGHT,
    Expected,
    QueueListener,
    decode,
    last_traceback,
    where_it_went,
)
from autograder.services import start_redis


@pytest.fixture(scope="module")
def redis_url():
    with Harness() as harness:
        yield start_redis(harness.scope()).url


@pytest.fixture
def listener(redis_url):
    with QueueListener(redis_url) as listening:
        yield listening


def publisher(url: str, channel: str = "flask-socketio") -> socketio.RedisManager:
    return socketio.RedisManager(url, channel=channel, write_only=True)


def wait_for_messages(listener: QueueListener, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(listener.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(listener.messages) >= count, listener.messages


def of_report(report_id: str):
    return lambda data: isinstance(data, dict) and data.get("report_id") == report_id


def settled() -> None:
    time.sleep(IN_FLIGHT + 0.1)


def test_it_records_each_emit_a_worker_publishes(listener, redis_url):
    publisher(redis_url).emit(
        "progress", {"report_id": "r1", "percent": 50}, to="report:a:r1", namespace="/reports"
    )
    wait_for_messages(listener, 1)
    emit = listener.emits()[0]
    assert (emit.event, emit.namespace, emit.room) == ("progress", "/reports", "report:a:r1")
    assert emit.payload == {"report_id": "r1", "percent": 50}
    assert emit.channel == "flask-socketio" and emit.signed is None


def test_a_signed_message_is_read_and_an_unsigned_one_told_apart():
    body = json.dumps(
        {
            "method": "emit",
            "event": "result",
            "data": [{"report_id": "x"}],
            "namespace": "/reports",
            "room": "r",
        }
    )
    signature = hmac.new(b"k", body.encode(), hashlib.sha256).hexdigest()
    signed = decode("flask-socketio", json.dumps({"body": body, "signature": signature}))
    assert signed.event == "result" and signed.room == "r" and signed.signed is True
    plain = decode("flask-socketio", body)
    assert plain.signed is None and plain.payload == {"report_id": "x"}
    assert decode("celery", b'{"not": "socketio"}') is None
    assert decode("celery", b"\x80\x04binary") is None


def test_it_says_when_an_emit_went_to_another_room(listener, redis_url):
    since = listener.mark()
    publisher(redis_url).emit("result", {"report_id": "r2"}, to="report:r2", namespace="/reports")
    wait_for_messages(listener, since + 1)
    expected = Expected("result", "/reports", "report:alice:r2", of_report("r2"))
    assert where_it_went(listener, expected, since) is None  # it may still be on its way
    settled()
    reason, explanation = where_it_went(listener, expected, since)
    assert "another room" in reason
    assert "report:r2" in explanation and "report:alice:r2" in explanation


def test_it_says_when_an_emit_went_to_another_namespace_or_channel(listener, redis_url):
    since = listener.mark()
    publisher(redis_url).emit("result", {"report_id": "r3"}, to="room-3", namespace="/")
    publisher(redis_url, channel="socketio").emit(
        "result", {"report_id": "r4"}, to="room-4", namespace="/reports"
    )
    wait_for_messages(listener, since + 2)
    settled()
    _, namespace = where_it_went(
        listener, Expected("result", "/reports", "room-3", of_report("r3")), since
    )
    assert "namespace / is not /reports" in namespace
    _, channel = where_it_went(
        listener, Expected("result", "/reports", "room-4", of_report("r4")), since
    )
    assert "channel 'socketio'" in channel


def test_it_says_when_no_server_subscribed(listener, redis_url):
    since = listener.mark()
    publisher(redis_url).emit("result", {"report_id": "r5"}, to="room-5", namespace="/reports")
    wait_for_messages(listener, since + 1)
    settled()
    assert listener.subscribers() == 0  # the listener's own pattern subscription is not counted
    reason, explanation = where_it_went(
        listener, Expected("result", "/reports", "room-5", of_report("r5")), since
    )
    assert "never subscribed" in reason and "message_queue" in explanation


def test_with_a_server_subscribed_the_client_is_not_in_the_room(listener, redis_url):
    server = socketio.RedisManager(redis_url, channel="flask-socketio")
    server._redis_connect()
    pubsub = server.redis.pubsub()
    pubsub.subscribe("flask-socketio")
    try:
        since = listener.mark()
        publisher(redis_url).emit("result", {"report_id": "r6"}, to="room-6", namespace="/reports")
        wait_for_messages(listener, since + 1)
        settled()
        assert listener.subscribers() == 1
        reason, explanation = where_it_went(
            listener, Expected("result", "/reports", "room-6", of_report("r6")), since
        )
        assert "not in it" in reason and "join_room" in explanation
    finally:
        pubsub.close()


def test_never_published_and_another_event_name(listener, redis_url):
    since = listener.mark()
    expected = Expected("result", "/reports", "room-7", of_report("r7"))
    assert where_it_went(listener, expected, since) is None
    assert "never published" in where_it_went(listener, expected, since, finished=True)[0]
    publisher(redis_url).emit("report_done", {"report_id": "r7"}, to="room-7", namespace="/reports")
    wait_for_messages(listener, since + 1)
    settled()
    reason, explanation = where_it_went(listener, expected, since, finished=True)
    assert "another event name" in reason and "'report_done'" in explanation


def test_last_traceback_quotes_what_the_worker_printed_after_a_point(tmp_path):
    class Process:  # a ManagedProcess's log, without the process
        log_path = tmp_path / "worker.log"
        log_since = ManagedProcess.log_since

    process = Process()
    old = "Traceback (most recent call last):\n  old\nOldError: before\n"
    process.log_path.write_text(old)
    assert "OldError" in last_traceback(process)
    assert last_traceback(process, after=len(old)) is None
    with open(process.log_path, "a") as log:
        log.write(
            "[ERROR] Task tasks.build_report raised unexpected: boom\n"
            "Traceback (most recent call last):\n  File x\nRuntimeError: Working outside "
            "of application context.\n"
        )
    found = last_traceback(process, after=len(old))
    assert "raised unexpected" in found and "application context" in found


def test_on_a_signed_queue_an_unsigned_emit_is_named(redis_url):
    with QueueListener(redis_url, signed=True) as listener:
        publisher(redis_url).emit("result", {"report_id": "r8"}, to="room-8", namespace="/reports")
        wait_for_messages(listener, 1)
        settled()
        reason, explanation = where_it_went(
            listener, Expected("result", "/reports", "room-8", of_report("r8")), 0
        )
    assert "without the app's signature" in reason and "SignedRedisManager" in explanation
