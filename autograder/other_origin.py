"""A page on another origin: a tiny HTTP server the grader runs in a thread, on a port of its
own, for checks about what a page of another site may do with the user's cookie.

http://127.0.0.1:A and http://127.0.0.1:B are different origins (the port is part of an origin)
but the same site, and a cookie is sent to every port of its host: a page served here carries
the cookie the app set, as a page on a sibling subdomain or another port of a real site would.
It serves one page, which opens a Socket.IO connection to the URL given in its ?target= and
writes what happened into #outcome, and the socket.io client it imports.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from .paths import SOCKETIO_CLIENT_DIST

# The page's verdicts, in #outcome: "connected as <user>" on the server's welcome;
# "handshake refused: ..." when the connection itself failed (the Origin check answers 400);
# "refused by the app: ..." when the app's connect handler refused it.
PAGE = """<!doctype html>
<meta charset="utf-8"><title>another site</title><link rel="icon" href="data:,">
<p id="outcome">waiting</p>
<script type="module">
import { Manager } from "/socket.io.esm.min.js";
const target = new URLSearchParams(location.search).get("target");
const say = (text) => { document.getElementById("outcome").textContent = text; };
// No token: only the cookie the browser sends along could sign this socket in.
const manager = new Manager(target, { transports: ["websocket"], reconnection: false });
const notifications = manager.socket("/notifications");
notifications.on("welcome", ({ user }) => say(`connected as ${user}`));
notifications.on("connect_error", (err) => {
  const byApp = err.type !== "TransportError" && !String(err.message).includes("websocket error");
  say(`${byApp ? "refused by the app" : "handshake refused"}: ${err.message}`);
});
</script>
"""


class _Handler(SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.split("?")[0] == "/":
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()  # the socket.io client's files

    def log_message(self, format, *args):  # noqa: A002 - quiet: stderr stays clean
        pass


@contextlib.contextmanager
def other_origin() -> Iterator[str]:
    """Serve the page; yields its URL (http://127.0.0.1:PORT), stopped when the block ends."""
    handler = partial(_Handler, directory=str(SOCKETIO_CLIENT_DIST))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="other-origin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
