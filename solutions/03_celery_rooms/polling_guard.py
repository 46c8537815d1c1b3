"""In front of Engine.IO: a long-polling POST may carry only the packets a client sends.

python-engineio 4.15 never answers a polling POST that carries an open (0), ping (2), noop (6)
or unknown packet type, or more bytes than max_http_buffer_size: the request handler catches
the error and closes the session with close(wait=True), which waits for a GET poll that never
comes (engineio/server.py, handle_request). Each such request holds a connection (a file
descriptor, a thread or greenlet) for good, needs no login, and every later request of that
session gets a 500. tools/engineio_post_hang.py reproduces it without this app.

A client sends close (1), pong (3), message (4) and upgrade (5) there, and "b" for a binary
message; anything else is answered 400 here, and an oversized body 413, before Engine.IO sees
it. The websocket transport is not affected: it ignores such packets.
"""

import io
from urllib.parse import parse_qs

from client_errors import count

CLIENT_PACKET_TYPES = "1345b"


class PollingGuard:
    """WSGI middleware around the Socket.IO app (Flask-SocketIO's ``app.wsgi_app``)."""

    def __init__(self, app, max_body: int, path: str = "/socket.io/"):
        self.app = app
        self.max_body = max_body
        self.path = path

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").startswith(
            self.path
        ):
            status, body = self.checked_body(environ)
            if status:
                count("refused polling POST", status)
                start_response(status, [("Content-Type", "text/plain")])
                return [status.encode()]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def checked_body(self, environ) -> tuple[str | None, bytes]:
        """(an HTTP status when the body is refused, else None; the body)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return "400 Bad Content-Length", b""
        if length > self.max_body:
            return "413 Payload Too Large", b""
        body = environ["wsgi.input"].read(length)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return "400 Body Is Not UTF-8", b""
        if text.startswith("d="):  # the JSONP form engineio also reads
            text = parse_qs(text).get("d", [""])[0]
        if text and any(not p or p[0] not in CLIENT_PACKET_TYPES for p in text.split("\x1e")):
            return "400 Packet Type Not Sent By Clients", b""
        return None, body
