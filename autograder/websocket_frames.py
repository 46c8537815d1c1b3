"""The pieces of websocket (RFC 6455) and permessage-deflate (RFC 7692) a swarm client needs.

A browser, and socket.io-client under Node (the `ws` package), offer permessage-deflate on
every websocket: ``Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits``.
A server may accept it and then compress what it sends. A client that never offers it would
measure a server more kindly than real clients do, so the swarm offers it the same way, inflates
what arrives compressed, and sends its own small messages uncompressed (as `ws` does below its
1024-byte threshold, which every Engine.IO packet the swarm sends is).
"""

from __future__ import annotations

import os
import struct
import zlib

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN, RSV1 = 0x80, 0x40
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"
DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 7.2.2: stripped by the sender, added back here


class Inflater:
    """Decompresses the server's messages of one connection (context kept across messages
    unless the server said server_no_context_takeover)."""

    def __init__(self, context_takeover: bool):
        self.context_takeover = context_takeover
        self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)

    def inflate(self, payload: bytes) -> bytes:
        if not self.context_takeover:
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._zlib.decompress(payload + DEFLATE_TAIL)


def response_headers(response: bytes) -> dict[str, str]:
    """An HTTP response head as {lower-case name: value}."""
    lines = response.decode("latin-1").split("\r\n")[1:]
    return {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines)
        if name
    }


def accepted_inflater(headers: dict[str, str]) -> Inflater | None:
    """An Inflater when the server accepted permessage-deflate, None when it declined."""
    for extension in headers.get("sec-websocket-extensions", "").split(","):
        name, *parameters = [part.strip() for part in extension.split(";")]
        if name == "permessage-deflate":
            return Inflater("server_no_context_takeover" not in parameters)
    return None


class MessageReader:
    """Turns the bytes a server sends into whole messages: frames parsed, fragments joined,
    compressed messages inflated. Control frames (ping, close) come out as they arrive."""

    def __init__(self, inflater: Inflater | None = None):
        self.inflater = inflater
        self._buffer = bytearray()
        self._parts: list[bytes] = []
        self._opcode, self._compressed = TEXT, False

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Every message ``data`` completes, as (opcode, payload)."""
        self._buffer += data
        messages = []
        while (frame := self._next_frame()) is not None:
            first, opcode, payload = frame
            if opcode >= CLOSE:  # control frames are never fragmented nor compressed
                messages.append((opcode, payload))
                continue
            if opcode != CONTINUATION:
                self._opcode, self._compressed = opcode, bool(first & RSV1)
            self._parts.append(payload)
            if first & FIN:
                message = b"".join(self._parts)
                self._parts = []
                if self._compressed:
                    if self.inflater is None:
                        raise ValueError("a compressed message on a connection without deflate")
                    message = self.inflater.inflate(message)
                messages.append((self._opcode, message))
        return messages

    def _next_frame(self) -> tuple[int, int, bytes] | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        length, offset = second & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, offset = struct.unpack_from("!H", buffer, 2)[0], 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
        mask = None
        if second & 0x80:
            mask, offset = bytes(buffer[offset : offset + 4]), offset + 4
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset : offset + length])
        del buffer[: offset + length]
        return first, first & 0x0F, masked(payload, mask) if mask else payload


def masked(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XOR the repeated 4-byte ``mask`` (a client masks every frame it sends)."""
    if not payload:
        return payload
    key = (mask * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")
    return value.to_bytes(len(payload), "big")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One client frame: FIN set, uncompressed, masked (clients must mask)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", FIN | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", FIN | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", FIN | opcode, 0x80 | 127, length)
    return head + mask + masked(payload, mask)
