"""Refuse new Socket.IO clients at once when the worker is full, instead of letting them hang.

A gevent worker serves at most worker_connections connections. Past that, gevent stops
accepting (gevent/baseserver.py: a full pool calls stop_accepting()), and every new client,
/healthz included, waits in the kernel's listen queue with no answer and nothing in the log.
Its file descriptors can run out first, and then each accept fails with "Too many open files".

gunicorn.conf.py wraps the app in ConnectionBudget with a limit a little below both. Every
request in progress counts (a websocket for as long as it is open, a long poll while it
waits); at the limit a request that opens a new Engine.IO session (no ``sid``) is answered
503 with Retry-After at once. gevent-websocket's worker has already accepted a websocket
before the app sees it, so that one is closed at once instead, without a code: gevent-websocket
0.10.1 cannot send one (its WebSocket.close() ignores ``code`` and writes ``str(message)``), so
1013 "try again later" (RFC 6455, 7.4.1) is out of reach. The client retries later, nginx tries
another instance (proxy_next_upstream), and /healthz and the open sessions keep being served.
"""

import logging

from werkzeug.wsgi import ClosingIterator

log = logging.getLogger(__name__)
REFUSAL = "this server is full: try again in a few seconds"


class ConnectionBudget:
    """WSGI middleware: at most ``limit`` requests in progress before new sessions get 503."""

    def __init__(self, app, limit: int, path: str = "/socket.io/"):
        self.app = app
        self.limit = limit
        self.path = path
        self.in_progress = 0
        self.refused = 0

    def __call__(self, environ, start_response):
        if self.in_progress >= self.limit and self.opens_a_session(environ):
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning(
                    "%d requests in progress, the limit: new Socket.IO clients get 503 (%d so far)",
                    self.in_progress,
                    self.refused,
                )
            websocket = environ.get("wsgi.websocket")  # gevent-websocket upgraded already
            if websocket is not None:
                websocket.close()  # an empty close frame: see the module's docstring
                return []
            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "5")]
            )
            return [REFUSAL.encode()]
        self.in_progress += 1
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self.done()
            raise
        return ClosingIterator(body, self.done)  # a streamed response counts until it is sent

    def opens_a_session(self, environ) -> bool:
        return environ.get("PATH_INFO", "").startswith(self.path) and "sid=" not in environ.get(
            "QUERY_STRING", ""
        )

    def done(self) -> None:
        self.in_progress -= 1
