"""When a web process counts as ready: it answers HTTP, and Engine.IO answers a handshake."""

from __future__ import annotations

from collections.abc import Callable

import requests

# An Engine.IO polling handshake: answered as soon as Socket.IO is mounted, whatever the app.
ENGINEIO_HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness test: ``url`` answers with anything but a server error."""
    return lambda: requests.get(url, timeout=1).status_code < 500


def engineio_ready(base_url: str) -> Callable[[], bool]:
    return http_ok(base_url + ENGINEIO_HANDSHAKE)
