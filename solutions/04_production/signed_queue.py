"""The Socket.IO message queue, with every message signed by SECRET_KEY.

Every web instance and worker publishes to Redis's "flask-socketio" channel, and every web
instance acts on what it reads there: emits to its clients, disconnects them, moves them
between rooms. python-socketio trusts the channel: "any client connected to the backend [can]
emit events addressed to Socket.IO clients" (socketio/pubsub_manager.py). So anyone who can
reach Redis could show alice a forged report, or disconnect everyone. Here each message
carries an HMAC of its content under a key derived from SECRET_KEY, which only our processes
hold, and a web instance drops a message without a valid one. Redis still needs a password and
no public port; this keeps a process with access to Redis, but not the secret, from speaking
for the app. _publish and _listen are the two methods a pub/sub manager subclass provides.
"""

import hashlib
import hmac
import json
import logging

import redis
import socketio

CHANNEL = "flask-socketio"  # Flask-SocketIO's default channel
log = logging.getLogger(__name__)


class SignedRedisManager(socketio.RedisManager):
    """``channel``: the Redis pub/sub channel of this app. Apps that share a Redis need one each:
    pub/sub ignores the database number in the URL (SOCKETIO_CHANNEL in config.py)."""

    def __init__(
        self, url: str, secret: str, write_only: bool = False, channel: str = CHANNEL, **options
    ):
        super().__init__(url, channel=channel, write_only=write_only, **options)
        self.key = hashlib.sha256(b"socketio message queue\0" + secret.encode()).digest()
        self.dropped = 0
        # Make the Redis client now (it connects on first use), not lazily from two places at
        # once: the first publish and the listener would each make one, and when the first is
        # dropped it closes its pool, the listener's subscription with it ("Cannot receive
        # from redis ... I/O operation on closed file", a second of lost events). With Redis
        # down the app must still start (and /healthz say so): then it connects on first use.
        try:
            self._redis_connect()
        except redis.RedisError as error:
            self.connected = False
            log.warning("the message queue's Redis does not answer yet: %s", error)

    def signature(self, body: str) -> str:
        return hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()

    def _publish(self, data):
        body = json.dumps(data, separators=(",", ":"))
        return super()._publish({"body": body, "signature": self.signature(body)})

    def _listen(self):
        for message in super()._listen():
            data = self.verified(message)
            if data is not None:
                yield data

    def verified(self, message) -> dict | None:
        """The message's content if its signature is ours, else None (and one log line)."""
        try:
            envelope = json.loads(message)
            body, signature = envelope["body"], envelope["signature"]
            if hmac.compare_digest(self.signature(body), signature):
                return json.loads(body)
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
        self.dropped += 1
        log.warning("dropped a queue message without our signature (%d so far)", self.dropped)
        return None
