"""Where an event was lost: a listener on the stage's Socket.IO message queue (lessons 03-04).

Every emit a worker or a web server makes through a Redis message queue is published on a Redis
pub/sub channel ("flask-socketio" unless the app names another) as JSON:
``{"method": "emit", "event", "data", "namespace", "room", "skip_sid", "host_id", ...}``
(python-socketio's pubsub_manager.py). Lesson 04 wraps it in ``{"body": <that JSON>,
"signature": ...}`` (signed_queue.py). The listener subscribes to every channel of the stage's
private Redis and keeps each such message, so that when a client misses an event a check can say
which of these happened:

- it was never published (the worker's traceback, when there is one, says why);
- it was published to another room, namespace, event name or channel than the client waits on;
- it was published, but no web server listens on the channel (no message queue);
- it was published where the client waits, and the server did not deliver it: the client is
  not in the room (join_room).

``wait_for_event`` waits for an event at a client and stops early as soon as the outcome is
known: the worker printed a traceback, the event went elsewhere, or a process of the stack
exited.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from .client import Probe
from .failures import CheckFailed
from .harness import ManagedProcess

DEFAULT_CHANNEL = "flask-socketio"  # Flask-SocketIO's default
TRACEBACK = "Traceback (most recent call last)"
SETTLE = 0.5  # seconds a finished report is given for its event to reach the client
# A message on the queue older than this that the client has not received will not arrive
# (Redis delivers to subscribers within milliseconds); younger, it may still be on its way.
IN_FLIGHT = 2.0  # generous: a loaded machine delays delivery, never by this much


@dataclass
class Published:
    """One message on the queue: an emit, or a room change, a disconnect, a callback."""

    channel: str
    method: str
    event: str | None
    namespace: str
    room: Any
    data: Any
    signed: bool | None  # None: the channel carries plain messages (lesson 03)
    at: float = field(default_factory=time.monotonic)

    @property
    def payload(self) -> Any:
        """The emit's first argument (what a client's handler gets)."""
        if isinstance(self.data, list) and self.data:
            return self.data[0]
        return self.data

    def describe(self) -> str:
        where = f"room {self.room!r}" if self.room is not None else "everyone (no room)"
        text = f"{self.event!r} to {where} on {self.namespace}"
        if self.channel != DEFAULT_CHANNEL:
            text += f" (channel {self.channel!r})"
        if self.signed is False:
            text += " unsigned"
        return text


def decode(channel: str, raw: bytes | str) -> Published | None:
    """The queue message in ``raw``, or None when it is not one (e.g. Celery's own traffic)."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    signed = None
    if isinstance(message, dict) and "body" in message and "method" not in message:
        signed = bool(message.get("signature"))
        try:
            message = json.loads(message["body"])
        except (ValueError, TypeError):
            return None
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        return None
    return Published(
        channel=channel,
        method=message["method"],
        event=message.get("event"),
        namespace=message.get("namespace") or "/",
        room=message.get("room"),
        data=message.get("data"),
        signed=signed,
    )


class QueueListener:
    """Subscribes to every pub/sub channel of one Redis and keeps the Socket.IO messages."""

    def __init__(self, redis_url: str, channel: str = DEFAULT_CHANNEL, signed: bool = False):
        self.redis_url = redis_url
        self.channel = channel
        self.signed = signed  # the web servers drop a message without a signature (lesson 04)
        self.messages: list[Published] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 5.0) -> QueueListener:
        self._thread = threading.Thread(target=self._run, name="queue-listener", daemon=True)
        self._thread.start()
        self._subscribed.wait(timeout)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def __enter__(self) -> QueueListener:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe("*")
                self._subscribed.set()
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.1)
                    if message and message.get("type") == "pmessage":
                        self._keep(message)
                with contextlib.suppress(Exception):
                    pubsub.close()
                    client.close()
            except (redis.RedisError, OSError):
                self._stopping.wait(0.2)  # Redis restarts in some checks: subscribe again

    def _keep(self, message: dict) -> None:
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode(errors="replace")
        published = decode(channel, message.get("data") or b"")
        if published is not None:
            with self._lock:
                self.messages.append(published)

    # -- what was published ------------------------------------------------------------------
    def mark(self) -> int:
        """A bookmark: pass it as ``since`` to see only what was published after it."""
        with self._lock:
            return len(self.messages)

    def emits(self, since: int = 0, where: Callable[[Any], bool] | None = None) -> list[Published]:
        """The emits published since the bookmark, whose payload matches ``where``."""
        with self._lock:
            found = [m for m in self.messages[since:] if m.method == "emit"]
        return [m for m in found if where is None or _matches(where, m.payload)]

    def subscribers(self, channel: str | None = None) -> int | None:
        """How many clients (web servers) listen on the channel; None if Redis does not answer.
        The listener itself uses a pattern subscription, which this count leaves out."""
        channel = channel or self.channel
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=1)
            with contextlib.closing(client):
                counts = dict(client.pubsub_numsub(channel))
        except (redis.RedisError, OSError):
            return None
        return int(counts.get(channel.encode(), counts.get(channel, 0)))


def _matches(where: Callable[[Any], bool], payload: Any) -> bool:
    try:
        return bool(where(payload))
    except Exception:
        return False


# -- the diagnosis --------------------------------------------------------------------------
@dataclass
class Expected:
    """What a client waits for: an event on a namespace, published to a room."""

    event: str
    namespace: str
    room: str | None  # the room the client is in (None: not known to the check)
    about: Callable[[Any], bool]  # which payloads belong to the thing waited for (a report)


def last_traceback(process: ManagedProcess | None, after: int = 0, lines: int = 14) -> str | None:
    """The last Python traceback a process printed after byte ``after`` of its log, if any."""
    if process is None:
        return None
    text = process.log_since(after)
    start = text.rfind(TRACEBACK)
    if start < 0:
        return None
    # the log line that announced it (e.g. "Task ... raised unexpected"), then the traceback
    line_start = text.rfind("\n", 0, start)
    announced = text.rfind("\n", 0, max(0, line_start)) + 1
    block = text[announced:].strip().splitlines()
    return "\n".join(block[: lines + 1] + (["…"] if len(block) > lines + 1 else []))


def log_size(process: ManagedProcess | None) -> int:
    return process.log_size() if process is not None else 0


def where_it_went(
    listener: QueueListener, expected: Expected, since: int, finished: bool = False
) -> tuple[str, str] | None:
    """(the short reason, its explanation) once the queue shows the event cannot arrive, or
    when ``finished`` says it should have arrived by now; else None (wait on)."""
    settled = time.monotonic() - IN_FLIGHT
    everything = listener.emits(since, expected.about)
    about = [m for m in everything if m.at <= settled]
    same_event = [m for m in about if m.event == expected.event]
    if not same_event and any(m.event == expected.event for m in everything):
        return None  # it was published just now: it may still reach the client
    target = f"{expected.event!r} on {expected.namespace}" + (
        f" to room {expected.room!r}" if expected.room else ""
    )
    right = [
        m
        for m in same_event
        if m.namespace == expected.namespace
        and (expected.room is None or m.room == expected.room)
        and m.channel == listener.channel
    ]
    if right:
        if listener.signed and not right[0].signed:
            return (
                "published without the app's signature",
                f"the queue carried {right[0].describe()}, but without a signature the web "
                "instances drop it (signed_queue.py): publish through a SignedRedisManager "
                "with the app's SECRET_KEY",
            )
        subscribers = listener.subscribers()
        if subscribers == 0:
            return (
                "the web server never subscribed to the message queue",
                f"the worker published {target} on Redis channel {listener.channel!r}, but no "
                "web server listens there: is socketio.init_app(app, message_queue=REDIS_URL) "
                "given the queue?",
            )
        return (
            "published to the right room, but the client is not in it",
            f"the worker published {target} and {subscribers} web server(s) listen on the "
            "queue, yet the client did not get it: the server only delivers to a room's "
            "members. Is this client put into the room (join_room) before the events come?",
        )
    if same_event:
        wrong = same_event[0]
        if wrong.channel != listener.channel:
            because = (
                f"it went out on Redis channel {wrong.channel!r}, where no web server listens "
                f"(they listen on {listener.channel!r})"
            )
        elif wrong.namespace != expected.namespace:
            because = f"namespace {wrong.namespace} is not {expected.namespace}"
        else:
            because = f"the client is in room {expected.room!r}, not in {wrong.room!r}"
        return (
            "published to another room or namespace than the client is in",
            f"the queue carried {wrong.describe()}; the client waits for {target}: {because}",
        )
    others = sorted({m.event for m in about if m.event} - {expected.event})
    if others and finished:
        return (
            f"published under another event name, never as {expected.event!r}",
            f"the queue carried {', '.join(map(repr, others))} for it, but no {expected.event!r}",
        )
    if finished:
        return (
            "never published",
            f"nothing published {target} on the message queue (Redis): the emit never happened",
        )
    return None


def wait_for_event(
    probe: Probe,
    expected: Expected,
    listener: QueueListener | None,
    timeout: float,
    sent: Any,
    expectation: Any,
    worker: ManagedProcess | None = None,
    processes: Callable[[], ManagedProcess | None] = lambda: None,
    finished: Callable[[], bool] | None = None,
    since: int | None = None,
) -> Any:
    """The payload of ``expected.event`` at ``probe``; a failure that says where it was lost.

    Gives up early when the worker prints a traceback, the queue shows the event went
    elsewhere, a process of the stack exited (``processes()`` returns it), or ``finished()``
    (e.g. the report is done in the database) has held for a moment without the event.
    """
    since = listener.mark() if (listener is not None and since is None) else (since or 0)
    log_start = log_size(worker)
    deadline = time.monotonic() + timeout
    finished_at: float | None = None
    reason: tuple[str, str] | None = None
    while True:
        left = deadline - time.monotonic()
        try:
            return probe.expect(
                expected.event,
                namespace=expected.namespace,
                where=expected.about,
                timeout=max(0.05, min(0.25, left)),
            )
        except CheckFailed:
            pass
        if time.monotonic() >= deadline:
            break
        exited = processes()
        if exited is not None:
            reason = (
                f"{exited.name} exited",
                f"{exited.name} stopped (exit code {exited.exited()}); its last output:\n"
                f"{exited.log_tail(12)}",
            )
            break
        traceback = last_traceback(worker, log_start)
        if traceback is not None:
            # the event may still come (an error the app recovered from): a moment's grace
            with contextlib.suppress(CheckFailed):
                return probe.expect(
                    expected.event, expected.namespace, where=expected.about, timeout=SETTLE
                )
            reason = ("the worker failed", f"the worker's traceback:\n{traceback}")
            break
        if finished is not None and finished_at is None:
            try:
                if finished():
                    finished_at = time.monotonic()
            except CheckFailed as failure:  # the check knows the outcome already
                failure.sent = failure.sent or sent
                raise
            except Exception:  # e.g. a status request that failed: not yet
                pass
        done = finished_at is not None and time.monotonic() - finished_at >= SETTLE
        if listener is not None:
            reason = where_it_went(listener, expected, since, finished=done)
            if reason is not None:
                break
        elif done:
            break
    if reason is None and listener is not None:
        reason = where_it_went(listener, expected, since, finished=True)
    got = "; ".join(
        f"{e!r} on {n}" for e, n, d in probe.seen[-6:] if expected.about(d) or e == expected.event
    )
    summary = f"{probe.name} did not receive {expected.event!r}"
    if reason is not None:
        summary += f": {reason[0]}"
    received = f"{got or 'no event of it'} at the client"
    if reason is not None:
        received += f".\nOn the message queue: {reason[1]}"
    raise CheckFailed(summary, sent=sent, expected=expectation, received=received)
