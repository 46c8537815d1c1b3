"""Minimal reproduction: python-engineio never answers a long-polling POST that carries a packet
type a client does not send (open "0", ping "2", noop "6", or an unknown one such as "9").

No Socket.IO, no Flask: one engineio.Server on a threaded wsgiref server, and requests.

    python tools/engineio_post_hang.py      # exit 1 while the hang reproduces, 0 once fixed

What happens (python-engineio 4.15.1, engineio/server.py and engineio/socket.py):
1. Socket.handle_post_request() decodes the payload and calls Socket.receive(), which raises
   UnknownPacketError for every type but pong, message, upgrade and close.
2. Server.handle_request() catches the EngineIOError and calls self.disconnect(sid).
3. Server.disconnect() calls socket.close() with its default wait=True: close() puts None on
   the socket's queue and then queue.join() waits for a GET poll to take it. A client that
   never polls again never lets it return, so the POST is never answered and its connection
   (a file descriptor, a thread or greenlet) stays held.
4. close() has already set socket.closed, so every later request of the session reaches
   Server._get_socket(), which raises KeyError('Session is disconnected') outside any try:
   HTTP 500.
The websocket transport does not hang: Socket._websocket_handler() ignores UnknownPacketError.
A fix upstream: close(wait=False) on that error path (as the websocket path and the ping-timeout
path do), or answer 400 without closing. ContentTooLongError takes the same path.
"""

from __future__ import annotations

import json
import sys
import threading
from importlib.metadata import version
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import engineio
import requests

WAIT = 5.0  # seconds the POST gets to be answered


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main() -> int:
    server = engineio.Server(async_mode="threading")
    app = engineio.WSGIApp(server)
    httpd = make_server("127.0.0.1", 0, app, ThreadingWSGIServer, QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/engine.io/?EIO=4&transport=polling"
    print(f"python-engineio {version('python-engineio')}")

    opened = requests.get(url, timeout=WAIT)
    sid = json.loads(opened.text[1:])["sid"]
    print(f"handshake: HTTP {opened.status_code}, sid {sid}")
    try:
        answer = requests.post(f"{url}&sid={sid}", data="6", timeout=WAIT)
        print(f'POST "6" (noop): HTTP {answer.status_code} {answer.text!r}')
        hung = False
    except requests.Timeout:
        print(f'POST "6" (noop): no answer within {WAIT:.0f} s (the request is still held)')
        hung = True
    later = requests.post(f"{url}&sid={sid}", data="4hello", timeout=WAIT)
    print(f'a later POST "4hello" of the same session: HTTP {later.status_code}')
    httpd.shutdown()
    return 1 if hung or later.status_code >= 500 else 0


if __name__ == "__main__":
    sys.exit(main())
