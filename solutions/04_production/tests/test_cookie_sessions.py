"""Cookie sessions in process: Flask's test client signs in over HTTP, and the Socket.IO test
client it is handed sends that client's cookies with its handshake (flask_test_client=...)."""

from config import TestingConfig
from extensions import socketio

CHAT, NOTIFICATIONS = "/chat", "/notifications"
ALICE = next(token for token, user in TestingConfig.CHAT_TOKENS.items() if user == "alice")


def test_a_signed_in_browser_needs_no_token(app, received):
    browser = app.test_client()
    assert browser.post("/login", json={"token": ALICE}).json == {"ok": True, "user": "alice"}
    sock = socketio.test_client(app, namespace=NOTIFICATIONS, flask_test_client=browser)
    assert sock.is_connected(NOTIFICATIONS)
    assert [w["user"] for w in received(sock, NOTIFICATIONS, "welcome")] == ["alice"]
    sock.disconnect(NOTIFICATIONS)


def test_without_the_cookie_there_is_no_user(app):
    browser = app.test_client()
    browser.post("/login", json={"token": ALICE})
    sock = socketio.test_client(app, namespace=CHAT)  # not handed the browser: no cookie
    assert not sock.is_connected(CHAT)


def test_signing_out_ends_the_users_sockets(app):
    browser = app.test_client()
    browser.post("/login", json={"token": ALICE})
    sock = socketio.test_client(app, namespace=CHAT, flask_test_client=browser)
    sock.connect(namespace=NOTIFICATIONS)
    assert browser.post("/logout").json == {"ok": True, "disconnected": 2}
    assert not sock.is_connected(CHAT) and not sock.is_connected(NOTIFICATIONS)
    again = socketio.test_client(app, namespace=CHAT, flask_test_client=browser)
    assert not again.is_connected(CHAT)  # the cookie /logout sent back names nobody
