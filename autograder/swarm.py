"""Many cheap Socket.IO clients: raw websocket + the few Engine.IO/Socket.IO packets they need.

A python-socketio client costs a few threads; a swarm client is one asyncio protocol and one
socket, so one process holds thousands and stays cheap next to the server it measures. It
speaks just enough of the protocol: the websocket handshake (offering permessage-deflate as
browsers do, see websocket_frames), Engine.IO's open and ping/pong, a namespace connect with
auth, and events. A client counts as connected only once the server acknowledged its namespace
CONNECT.

Used by lesson 04's checks (hundreds of clients) and by bench/ (thousands, several processes):
    python -m autograder.swarm --url http://127.0.0.1:8000 --count 2000 ...
prints one JSON line about the connects, then for every line it reads on stdin (a broadcast's
text) one JSON line of the times that broadcast reached each client; an empty line ends it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import sys
import time
from urllib.parse import urlsplit

from .websocket_frames import (
    CLOSE,
    DEFLATE_OFFER,
    PING,
    PONG,
    TEXT,
    MessageReader,
    accepted_inflater,
    client_frame,
    response_headers,
)

CONNECT_CONCURRENCY = 200  # handshakes in flight at once, so the listen backlog never overflows


class SwarmError(RuntimeError):
    pass


class SwarmClient(asyncio.Protocol):
    """One client, as an asyncio protocol: every step runs in data_received, with no task or
    coroutine per message, so the client costs little next to the server it measures."""

    def __init__(self, request: bytes, namespace: str, auth: dict | None, event: str):
        self.request, self.namespace, self.event = request, namespace, event
        self.connect_packet = f"40{self.prefix}{json.dumps(auth) if auth else ''}"
        self.transport: asyncio.Transport | None = None
        self.reader: MessageReader | None = None  # after the HTTP upgrade
        self.head = bytearray()
        self.opened = False  # Engine.IO's open packet arrived
        self.connected = asyncio.get_running_loop().create_future()
        self.connected_at = 0.0  # monotonic time of the CONNECT acknowledgement
        self.received: dict[str, float] = {}  # marker text -> monotonic time of arrival

    @property
    def prefix(self) -> str:
        return "" if self.namespace == "/" else f"{self.namespace},"

    @property
    def inflater(self):
        """Set when the server accepted permessage-deflate."""
        return self.reader.inflater if self.reader else None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, error) -> None:
        self._fail(SwarmError(f"the connection closed: {error or 'by the server'}"))

    def data_received(self, data: bytes) -> None:
        try:
            if self.reader is None:
                data = self._upgrade(data)
            for opcode, payload in self.reader.feed(data) if self.reader else []:
                self._on_message(opcode, payload)
        except (SwarmError, ValueError, UnicodeDecodeError) as error:
            self._fail(error)
            self.transport.close()

    def _upgrade(self, data: bytes) -> bytes:
        """Wait for the whole HTTP response head; what follows it is websocket data."""
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return b""
        response, rest = bytes(self.head[: end + 4]), bytes(self.head[end + 4 :])
        status_line = response.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status_line:
            raise SwarmError(f"no websocket upgrade: the server answered {status_line!r}")
        self.reader = MessageReader(accepted_inflater(response_headers(response)))
        return rest

    def _on_message(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            self.transport.write(client_frame(PONG, payload))
        elif opcode == CLOSE:
            raise SwarmError("the server closed the websocket")
        elif opcode == TEXT:
            self._on_packet(payload.decode())

    def _on_packet(self, text: str) -> None:
        """One Engine.IO packet: open, ping, or a Socket.IO packet of our namespace."""
        if text == "2":  # Engine.IO ping: answer pong, or the server drops us
            self.send_text("3")
        elif text.startswith("0") and not self.opened:
            self.opened = True
            self.send_text(self.connect_packet)  # Engine.IO is open: now the namespace
        elif text.startswith(f"40{self.prefix}") and not self.connected.done():
            self.connected_at = time.monotonic()
            self.connected.set_result(self)
        elif text.startswith(f"44{self.prefix}"):
            raise SwarmError(f"namespace connect refused: {text[:120]!r}")
        elif text.startswith(f"42{self.prefix}"):
            name, *args = json.loads(text[len(self.prefix) + 2 :])
            if name == self.event and args and isinstance(args[0], dict):
                self.received[str(args[0].get("text"))] = time.monotonic()

    def send_text(self, text: str) -> None:
        self.transport.write(client_frame(TEXT, text.encode()))

    def _fail(self, error: Exception) -> None:
        if not self.connected.done():
            self.connected.set_exception(error)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def upgrade_request(url: str, origin: str, deflate: bool) -> bytes:
    parts = urlsplit(url)
    key = base64.b64encode(os.urandom(16)).decode()
    extensions = f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n" if deflate else ""
    return (
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extensions}"
        f"Origin: {origin}\r\n\r\n"
    ).encode()


async def connect(
    url: str,
    namespace: str,
    auth: dict | None,
    origin: str,
    event: str = "message",
    deflate: bool = True,
) -> SwarmClient:
    """One client, returned once the server acknowledged its namespace CONNECT."""
    parts = urlsplit(url)
    client = SwarmClient(upgrade_request(url, origin, deflate), namespace, auth, event)
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: client, parts.hostname, parts.port or 80)
    try:
        return await client.connected
    except BaseException:
        client.close()
        raise


class Swarm:
    """``count`` clients of one namespace, connected and listening for ``event``."""

    def __init__(
        self,
        url: str,
        namespace: str,
        auth: dict | None,
        origin: str,
        event: str,
        deflate: bool = True,
    ):
        self.url, self.namespace, self.auth, self.origin = url, namespace, auth, origin
        self.event, self.deflate = event, deflate
        self.clients: list[SwarmClient] = []
        self.errors: list[str] = []

    async def connect(self, count: int, timeout: float) -> float:
        """Connect up to ``count`` clients within ``timeout``; the seconds it took."""
        started = time.monotonic()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> None:
            async with gate:
                try:
                    client = await connect(
                        self.url, self.namespace, self.auth, self.origin, self.event, self.deflate
                    )
                except (OSError, SwarmError, ValueError) as error:
                    self.errors.append(f"{type(error).__name__}: {error}")
                    return
                self.clients.append(client)

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            self.errors.append(f"{len(pending)} connects still pending after {timeout:.0f} s")
        return time.monotonic() - started

    async def wait_for(self, marker: str, timeout: float) -> list[float]:
        """Arrival times of ``marker`` at every client that got it within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(marker in client.received for client in self.clients):
                break
            await asyncio.sleep(0.02)
        return [c.received[marker] for c in self.clients if marker in c.received]

    async def close(self) -> None:
        for client in self.clients:
            client.close()
        await asyncio.sleep(0)


async def serve_bench(args: argparse.Namespace) -> None:
    """Connect, report, then report each broadcast's arrival times until an empty line.

    The process's own garbage collector stays off: a full collection over thousands of
    clients would pause it, and the pause would count against the server it measures.
    """
    gc.disable()
    auth = {"token": args.token} if args.token else None
    swarm = Swarm(args.url, args.namespace, auth, args.origin, args.event, not args.no_deflate)
    started = time.monotonic()
    await swarm.connect(args.count, args.connect_timeout)
    acks = [client.connected_at for client in swarm.clients]
    report = {
        "connected": len(swarm.clients),
        "failed": len(swarm.errors),
        "started": started,
        "last_ack": max(acks, default=started),
        "deflate": sum(client.inflater is not None for client in swarm.clients),
        "errors": sorted(set(swarm.errors))[:5],
    }
    print(json.dumps(report), flush=True)
    loop = asyncio.get_running_loop()
    while marker := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        times = await swarm.wait_for(marker, args.receive_timeout)
        print(json.dumps({"marker": marker, "times": times}), flush=True)
    await swarm.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--namespace", default="/chat")
    parser.add_argument("--token", default="")
    parser.add_argument("--event", default="message")
    parser.add_argument("--no-deflate", action="store_true", help="do not offer deflate")
    parser.add_argument("--connect-timeout", type=float, default=120)
    parser.add_argument("--receive-timeout", type=float, default=60)
    try:  # libuv's event loop, where installed (the bench extra): less CPU per message
        from uvloop import run
    except ImportError:
        run = asyncio.run
    run(serve_bench(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
