"""python-socketio 5.18 + redis-py 8: more than 100 emits at once break the Redis manager.

redis-py 8 caps a ConnectionPool at 100 connections (MaxConnectionsError past that). Under
gevent every greenlet that emits takes a pooled connection for its PUBLISH, so a storm of
connects that each emit (a "joined" notice) needs more. RedisManager._publish then logs
"Cannot publish to redis... retrying" and calls _redis_connect(), which replaces self.redis;
when the old client is collected its pool closes, with it the subscriber's connection, and the
listener logs "Cannot receive from redis... retrying in 1 secs": events from other servers and
workers published in that second are lost. Suggested fix: publish through a bounded, blocking
pool or one connection (the course passes redis_options={"single_connection_client": True}).

    .venv/bin/python bench/upstream/socketio_redis_pool_exhaustion.py   (needs redis-server)
"""

from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import socketio  # noqa: E402

EMITTERS = 300


class Count(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def storm(url: str, redis_options: dict | None) -> None:
    log = Count()
    logging.getLogger("socketio").addHandler(log)
    manager = socketio.RedisManager(url, redis_options=redis_options)
    server = socketio.Server(async_mode="gevent", client_manager=manager)
    manager.initialize()  # what the first connect would do: start the listener
    gevent.sleep(0.5)
    first_client = id(manager.redis)  # an id: a reference would keep the old client alive
    emits = [
        gevent.spawn(server.emit, "notice", {"n": n}, namespace="/notifications")
        for n in range(EMITTERS)
    ]
    gevent.joinall(emits)
    gc.collect()  # a replaced client is in reference cycles: collect it now, not some day
    gevent.sleep(1.5)
    publish = sum("Cannot publish" in m for m in log.messages)
    receive = sum("Cannot receive" in m for m in log.messages)
    print(
        f"redis_options={redis_options}: {EMITTERS} emits at once -> {publish} publish errors, "
        f"{receive} subscriber drops, Redis client replaced: {id(manager.redis) != first_client}"
    )
    logging.getLogger("socketio").removeHandler(log)
    for message in sorted(set(log.messages)):
        print("   ", message[:100])


def with_private_redis(redis_options: dict | None) -> None:
    port = free_port()
    redis = subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        storm(f"redis://127.0.0.1:{port}/0", redis_options)
    finally:
        redis.terminate()
        redis.wait()


def main() -> None:
    if len(sys.argv) > 1:  # one case, in a process of its own
        return with_private_redis(json.loads(sys.argv[1]))
    for options in (None, {"single_connection_client": True}):
        subprocess.run([sys.executable, __file__, json.dumps(options)], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
