"""A real python-socketio client that records what arrives, for checks to assert on."""

from __future__ import annotations

import functools
import queue
import time
from typing import Any

import socketio

from . import settings
from .failures import CheckFailed


class Probe:
    """One real Socket.IO connection over TCP, with every received event kept in order."""

    def __init__(
        self,
        url: str,
        *,
        namespaces: list[str] | None = None,
        auth: dict | None = None,
        headers: dict | None = None,
        transports: list[str] | None = None,
        name: str = "client",
    ):
        self.url = url
        self.name = name
        self.namespaces = namespaces or ["/"]
        self.auth = auth
        self.headers = headers or {}
        self.transports = transports or ["websocket"]
        self.events: queue.Queue = queue.Queue()
        self.seen: list[tuple[str, str, Any]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record, namespace="*")

    def _record(self, event, namespace, *args):
        data = args[0] if len(args) == 1 else (list(args) if args else None)
        self.events.put((event, namespace, data))

    def connect(self, timeout: float = settings.EVENT_TIMEOUT) -> Probe:
        try:
            self.sio.connect(
                self.url,
                namespaces=self.namespaces,
                auth=self.auth,
                headers=self.headers,
                transports=self.transports,
                wait_timeout=timeout,
            )
        except socketio.exceptions.ConnectionError as error:
            raise CheckFailed(
                f"{self.name} could not connect",
                sent=f"connect to {self.url} namespaces={self.namespaces}",
                expected="the connection to be accepted",
                received=f"refused: {error}",
            ) from error
        self._close_quickly()
        return self

    def _close_quickly(self) -> None:
        close_without_waiting(self.sio)

    @property
    def sid(self) -> str | None:
        return self.sio.get_sid()

    def _disconnected(self, event: str, data: Any, namespace: str, error: Exception):
        return CheckFailed(
            f"{self.name} was no longer connected to {namespace}",
            sent=_describe(event, data, namespace),
            expected=f"{self.name} to stay connected to {namespace}",
            received=f"{type(error).__name__}: {error}: the server ended the connection "
            "(a crash in a handler, a disconnect() call, or the app stopped)",
        )

    def emit(self, event: str, data: Any = None, namespace: str = "/") -> None:
        try:
            self.sio.emit(event, data, namespace=namespace)
        except socketio.exceptions.BadNamespaceError as error:
            raise self._disconnected(event, data, namespace, error) from error

    def send(self, data: Any, namespace: str = "/") -> None:
        try:
            self.sio.send(data, namespace=namespace)
        except socketio.exceptions.BadNamespaceError as error:
            raise self._disconnected("message", data, namespace, error) from error

    def call(
        self,
        event: str,
        data: Any = None,
        namespace: str = "/",
        timeout: float = settings.EVENT_TIMEOUT,
    ) -> Any:
        """Emit with an acknowledgement callback and return what the server acknowledged."""
        args = () if data is None else (data,)
        try:
            return self.sio.call(event, *args, namespace=namespace, timeout=timeout)
        except socketio.exceptions.BadNamespaceError as error:
            raise self._disconnected(event, data, namespace, error) from error
        except socketio.exceptions.TimeoutError as error:
            raise CheckFailed(
                f"no acknowledgement for {event!r} within {timeout:.0f} s",
                sent=_describe(event, data, namespace),
                expected="the handler to return a value (the acknowledgement)",
                received=f"nothing within {timeout:.0f} s: the handler did not answer. Is there "
                "such a handler, and is it stuck (an endless loop, a sleep, a blocking call)?",
            ) from error

    def expect(
        self,
        event: str,
        namespace: str = "/",
        timeout: float = settings.EVENT_TIMEOUT,
        where=None,
        sent: Any = None,
        expected: Any = None,
    ) -> Any:
        """Wait for ``event`` (optionally matching ``where(data)``); fail with what did arrive."""
        deadline = time.monotonic() + timeout
        others = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                got_event, got_namespace, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append((got_event, got_namespace, data))
            if got_event == event and got_namespace == namespace and (where is None or where(data)):
                return data
            others.append(_describe(got_event, data, got_namespace))
        raise CheckFailed(
            f"{self.name} did not receive {event!r} within {timeout:.0f} s",
            sent=sent,
            expected=expected or f"{event!r} on {namespace}",
            received=("; ".join(others) if others else f"nothing within {timeout:.0f} s"),
        )

    def expect_nothing(
        self, event: str, namespace: str = "/", within: float = 1.0, sent: Any = None, why: str = ""
    ) -> None:
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                got_event, got_namespace, data = self.events.get(timeout=left)
            except queue.Empty:
                return
            if got_event == event and got_namespace == namespace:
                raise CheckFailed(
                    f"{self.name} received {event!r} but should not have",
                    sent=sent,
                    expected=why or f"no {event!r} for {self.name}",
                    received=_describe(got_event, data, got_namespace),
                )

    def drain(self, settle: float = 0.3) -> None:
        """Forget everything received so far (after waiting ``settle`` for stragglers)."""
        time.sleep(settle)
        while not self.events.empty():
            self.seen.append(self.events.get_nowait())

    def disconnect(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    def __enter__(self) -> Probe:
        return self.connect()

    def __exit__(self, *exc_info) -> None:
        self.disconnect()


def close_without_waiting(client: socketio.Client, timeout: float = 0.2) -> None:
    """Make the client's websocket close without waiting long for the server's answer.

    Werkzeug never answers the websocket close frame, so a polite close would wait 3 s for
    it. The server has already handled the CLOSE packet by then.
    """
    websocket = getattr(client.eio, "ws", None)
    if websocket is not None:
        websocket.close = functools.partial(websocket.close, timeout=timeout)


def try_connect(
    url: str,
    auth: Any = None,
    namespaces: list[str] | tuple[str, ...] = ("/",),
    headers: dict | None = None,
    transport: str = "websocket",
    timeout: float = settings.EVENT_TIMEOUT,
) -> tuple[bool, str | None]:
    """Connect for real, then leave: (accepted, the refusal message the server sent, if any)."""
    client = socketio.Client(reconnection=False)
    refusals: list = []

    def on_refused(data=None):
        refusals.append(data.get("message") if isinstance(data, dict) else data)
        close_without_waiting(client, 0.05)

    for namespace in namespaces:
        client.on("connect_error", on_refused, namespace=namespace)
    try:
        client.connect(
            url,
            namespaces=list(namespaces),
            auth=auth,
            headers=headers or {},
            transports=[transport],
            wait_timeout=timeout,
        )
    except socketio.exceptions.ConnectionError as error:
        return False, refusals[0] if refusals else str(error)
    close_without_waiting(client, 0.05)
    client.disconnect()
    return True, None


def _describe(event: str, data: Any, namespace: str = "/") -> str:
    where = "" if namespace == "/" else f" on {namespace}"
    return f"{event!r}{where} with {data!r}"
