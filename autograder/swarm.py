"""Many cheap Socket.IO clients: raw websocket + the few Engine.IO/Socket.IO packets they need.

A python-socketio client costs a few threads; a swarm client is one asyncio task and one
socket, so one process holds thousands. It speaks just enough of the protocol: the websocket
handshake, Engine.IO's open and ping/pong, a namespace connect with auth, and events.

Used by lesson 04's checks (hundreds of clients) and by bench/ (thousands, several processes):
    python -m autograder.swarm --url http://127.0.0.1:8000 --count 2000 ...
prints "connected N failed M", waits for a line on stdin, then prints one JSON line of
receive times when the broadcast whose text is that line has reached every client.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
CONNECT_CONCURRENCY = 200  # handshakes in flight at once, so the listen backlog never overflows


class SwarmError(RuntimeError):
    pass


@dataclass
class SwarmClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    namespace: str
    received: dict[str, float] = field(default_factory=dict)  # marker text -> monotonic time


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if head[1] & 0x80 else None
    payload = await reader.readexactly(length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: FIN set, masked (clients must mask)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def send_text(writer: asyncio.StreamWriter, text: str) -> None:
    writer.write(frame(TEXT, text.encode()))
    await writer.drain()


async def next_message(client: SwarmClient) -> str:
    """The next Engine.IO text message; answers pings (websocket's and Engine.IO's) on the way."""
    while True:
        opcode, payload = await read_frame(client.reader)
        if opcode == PING:
            client.writer.write(frame(PONG, payload))
        elif opcode == CLOSE:
            raise SwarmError("the server closed the websocket")
        elif opcode == TEXT:
            text = payload.decode()
            if text == "2":  # Engine.IO ping: answer pong, or the server drops us
                await send_text(client.writer, "3")
                continue
            return text


async def connect(url: str, namespace: str, auth: dict | None, origin: str) -> SwarmClient:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        ).encode()
    )
    response = await reader.readuntil(b"\r\n\r\n")
    status_line = response.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in status_line:
        writer.close()
        raise SwarmError(f"no websocket upgrade: the server answered {status_line!r}")
    client = SwarmClient(reader, writer, namespace)
    opened = await next_message(client)
    if not opened.startswith("0"):
        raise SwarmError(f"expected the Engine.IO open packet, got {opened[:80]!r}")
    prefix = "" if namespace == "/" else f"{namespace},"
    await send_text(writer, f"40{prefix}{json.dumps(auth) if auth else ''}")
    answer = await next_message(client)
    if not answer.startswith(f"40{prefix}"):
        raise SwarmError(f"namespace connect refused: {answer[:120]!r}")
    return client


async def listen(client: SwarmClient, event: str) -> None:
    """Record when each ``event`` arrives, by its payload's "text", until the socket ends."""
    prefix = "42" if client.namespace == "/" else f"42{client.namespace},"
    try:
        while True:
            message = await next_message(client)
            if message.startswith(prefix):
                name, *args = json.loads(message[len(prefix) :])
                if name == event and args and isinstance(args[0], dict):
                    client.received[str(args[0].get("text"))] = time.monotonic()
    except (SwarmError, asyncio.IncompleteReadError, ConnectionError):
        return


class Swarm:
    """``count`` clients of one namespace, connected and listening for ``event``."""

    def __init__(self, url: str, namespace: str, auth: dict | None, origin: str, event: str):
        self.url, self.namespace, self.auth, self.origin, self.event = (
            url,
            namespace,
            auth,
            origin,
            event,
        )
        self.clients: list[SwarmClient] = []
        self.errors: list[str] = []
        self._listeners: list[asyncio.Task] = []

    async def connect(self, count: int, timeout: float) -> float:
        """Connect up to ``count`` clients within ``timeout``; the seconds it took."""
        started = time.monotonic()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> None:
            async with gate:
                try:
                    client = await connect(self.url, self.namespace, self.auth, self.origin)
                except (OSError, SwarmError, asyncio.IncompleteReadError) as error:
                    self.errors.append(f"{type(error).__name__}: {error}")
                    return
                self.clients.append(client)
                self._listeners.append(asyncio.create_task(listen(client, self.event)))

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
        for task in self._listeners:
            task.cancel()
        for client in self.clients:
            client.writer.close()
        await asyncio.sleep(0)


def main(argv: list[str] | None = None) -> int:
    """One swarm process for bench/: connect, report, wait for the marker, report times."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--namespace", default="/chat")
    parser.add_argument("--token", default="")
    parser.add_argument("--event", default="message")
    parser.add_argument("--connect-timeout", type=float, default=120)
    parser.add_argument("--receive-timeout", type=float, default=60)
    args = parser.parse_args(argv)

    async def run() -> None:
        auth = {"token": args.token} if args.token else None
        swarm = Swarm(args.url, args.namespace, auth, args.origin, args.event)
        seconds = await swarm.connect(args.count, args.connect_timeout)
        print(
            json.dumps(
                {
                    "connected": len(swarm.clients),
                    "failed": len(swarm.errors),
                    "seconds": seconds,
                    "errors": sorted(set(swarm.errors))[:5],
                }
            ),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        marker = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        times = await swarm.wait_for(marker, args.receive_timeout)
        print(json.dumps({"received": len(times), "times": times}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # hold the connections until told
        await swarm.close()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
