"""Fixtures for the chat's in-process tests: a fresh app per test, and Socket.IO test clients.

Run them in this folder with `python -m pytest tests`. Nothing here opens a port: Flask-SocketIO's
test client hands each packet straight to the server's handlers, in this process, and keeps
what the server sends back for get_received(). So a test takes milliseconds, and it tests
the handlers, not the network: CORS, transports and the browser are the grader's real
processes' business (lesson text, "Exercise 2.9").
"""

import pytest
from config import TestingConfig
from extensions import socketio
from factory import create_app

CHAT, NOTIFICATIONS = "/chat", "/notifications"
TOKENS = {user: token for token, user in TestingConfig.CHAT_TOKENS.items()}


@pytest.fixture
def app():
    """The app as create_app() builds it, with TestingConfig: an empty in-memory database."""
    app = create_app(TestingConfig)
    # python-socketio keeps save_session()'s data in the Engine.IO session of the connection,
    # and the test client makes none (it skips Engine.IO): give each test connection a dict.
    engineio_sessions = {}
    socketio.server.eio.get_session = lambda eio_sid: engineio_sessions.setdefault(eio_sid, {})
    return app


@pytest.fixture
def connect(app):
    """connect(auth, namespace=CHAT) -> a Socket.IO test client; is_connected(namespace) says
    whether the server accepted it. Every client is disconnected when the test ends."""
    clients = []

    def make(auth=None, namespace=CHAT):
        client = socketio.test_client(app, namespace=namespace, auth=auth)
        clients.append(client)
        return client

    yield make
    for client in clients:
        for namespace, connected in list(client.connected.items()):
            if connected:
                client.disconnect(namespace)


@pytest.fixture
def signed_in(connect):
    """signed_in(user, *namespaces) -> a test client connected with that user's token to
    each namespace (CHAT when none is named), over one connection."""

    def make(user, *namespaces):
        first, *others = namespaces or (CHAT,)
        auth = {"token": TOKENS[user]}
        client = connect(auth, first)
        for namespace in others:
            client.connect(namespace=namespace, auth=auth)
        assert all(client.is_connected(n) for n in (first, *others)), f"{user} was refused"
        return client

    return make


@pytest.fixture
def received():
    """received(client, namespace, event) -> the payload of each ``event`` the client got on
    ``namespace`` since the last look (get_received empties that namespace's inbox)."""

    def payloads(client, namespace: str, event: str) -> list:
        events = [e for e in client.get_received(namespace) if e["name"] == event]
        # The test client keeps send()'s events, named "message" or "json", as the payload
        # itself, and every other event as a list of its arguments.
        if event in ("message", "json"):
            return [e["args"] for e in events]
        return [e["args"][0] for e in events]

    return payloads
