"""simple-websocket 1.1: the server always accepts permessage-deflate, with no way to decline.

Server._handle_events answers every handshake with extensions=[PerMessageDeflate()], so any
client that offers it (every browser, socket.io-client on Node) gets compression, and each
connection then keeps a zlib compressor once the server has sent something. python-engineio
passes no option either. Suggested fix: a `compression=False` (or `extensions=`) argument to
simple_websocket.Server/accept, passed on by engineio. The course app removes the offer from
the WSGI environ instead (solutions/04_production/wsgi.py, WithoutWebsocketCompression).

    .venv/bin/python bench/upstream/simple_websocket_deflate.py
"""

import base64
import os
import socket
import tracemalloc

import simple_websocket

CONNECTIONS = 200
OFFER = "permessage-deflate; client_max_window_bits"  # what browsers send
MESSAGE = '42/chat,["message",{"id":1,"user":"alice","text":"hello","sent_at":0}]'


def connect(offer: bool):
    server_end, client_end = socket.socketpair()
    environ = {
        "werkzeug.socket": server_end,
        "HTTP_HOST": "localhost",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": base64.b64encode(os.urandom(16)).decode(),
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    if offer:
        environ["HTTP_SEC_WEBSOCKET_EXTENSIONS"] = OFFER
    server = simple_websocket.Server(environ)
    response = client_end.recv(4096).decode(errors="replace")
    server.send(MESSAGE)  # a chat broadcast reaching this client
    client_end.recv(4096)
    return server, client_end, "permessage-deflate" in response


def kib_per_connection(offer: bool) -> tuple[float, bool]:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [connect(offer) for _ in range(CONNECTIONS)]
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    accepted = all(compressed for _, _, compressed in kept)
    for server, client_end, _ in kept:
        server.close()
        client_end.close()
    return grown / 1024 / CONNECTIONS, accepted


def main() -> None:
    for offer in (False, True):
        kib, accepted = kib_per_connection(offer)
        print(
            f"client offers deflate: {offer!s:5}  server accepted it: {accepted!s:5}  "
            f"{kib:5.1f} KiB traced per connection"
        )


if __name__ == "__main__":
    main()
