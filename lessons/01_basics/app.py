"""Lesson 01: the Flask-SocketIO development-server sample, grown into a small chat.

Run it with ``python app.py`` (or ``make run LESSON=01``) and open the printed URL.
"""

import os
import threading
import time
from pathlib import Path

from flask import Flask, abort, render_template, request, send_from_directory
from flask_socketio import SocketIO, emit, send

MAX_MESSAGE_LENGTH = 500

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "dev-only-not-a-secret")

# async_mode is explicit: auto-detection would pick gevent whenever it is installed.
# Only the chat's own page may open a connection.
socketio = SocketIO(
    app,
    async_mode="threading",
    cors_allowed_origins=f"http://127.0.0.1:{os.environ.get('PORT', '5000')}",
)

# Who is connected. Handlers run in several threads, so the set has a lock.
connected_sids: set[str] = set()
connected_lock = threading.Lock()


def find_socketio_client() -> Path | None:
    """The socket.io browser client that `npm ci` installed, found upwards from here."""
    if os.environ.get("SOCKETIO_CLIENT_DIST"):
        return Path(os.environ["SOCKETIO_CLIENT_DIST"])
    for folder in Path(__file__).resolve().parents:
        dist = folder / "node_modules" / "socket.io-client" / "dist"
        if dist.is_dir():
            return dist
    return None


@app.route("/")
def index():
    return render_template("index.html")


@app.route("/vendor/<path:filename>")
def vendor(filename):
    client_dist = find_socketio_client()
    if client_dist is None:
        abort(404, "socket.io-client is not installed: run `npm ci` at the course root.")
    return send_from_directory(client_dist, filename)


@socketio.on_error_default
def report_error(error):
    """A handler raised: tell the client which event failed instead of failing silently."""
    if isinstance(error, NotImplementedError):
        message = str(error)
    else:
        app.logger.exception("error in event %r", request.event["message"])
        message = "internal server error"
    emit("error", {"event": request.event["message"], "error": message})
    return {"ok": False, "error": message}


def broadcast_user_count():
    with connected_lock:
        count = len(connected_sids)
    emit("user_count", {"count": count}, broadcast=True)


@socketio.on("connect")
def on_connect():
    # Goal: every client, the new one included, learns how many users are connected now, this
    # one counted.
    # Constraint: handlers run in several threads at once; the set of connected clients is only
    # touched under its lock. (make hint EX=1.1 if you are stuck.)
    # Exercise 1.1: remember this client and tell everyone the new user count.
    raise NotImplementedError('Exercise 1.1 is not implemented yet (see lessons/01_basics/README.md, "Exercise 1.1")')


@socketio.on("disconnect")
def on_disconnect(reason=None):
    # Goal: the clients still connected learn the new count, without this one.
    # Constraint: forgetting a client that is already gone must be harmless, and the set is only
    # touched under its lock. (make hint EX=1.1 if you are stuck.)
    # Exercise 1.1: forget this client and tell everyone who is left the new count.
    raise NotImplementedError('Exercise 1.1 is not implemented yet (see lessons/01_basics/README.md, "Exercise 1.1")')


@socketio.on("chat_message")
def on_chat_message(data):
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return {"ok": False, "error": 'expected {"name": str, "text": str}'}
    text = data["text"].strip()
    if not text or len(text) > MAX_MESSAGE_LENGTH:
        return {"ok": False, "error": f"text must be 1 to {MAX_MESSAGE_LENGTH} characters"}
    name = str(data.get("name") or "anonymous")[:40]
    # Goal: every connected client, the sender too, gets the message with the time it arrived.
    # Constraint: the time is the server's, in seconds; a client's clock is never trusted.
    # (make hint EX=1.2 if you are stuck.)
    # Exercise 1.2: send {"name", "text", "sent_at"} as "chat_message" to every client.
    raise NotImplementedError('Exercise 1.2 is not implemented yet (see lessons/01_basics/README.md, "Exercise 1.2")')
    return {"ok": True}


@socketio.on("server_time")
def on_server_time():
    # Goal: the client that asked gets the server's time back as the answer to its own emit.
    # Constraint: no other client hears of it, and no new event goes out for it.
    # (make hint EX=1.3 if you are stuck.)
    # Exercise 1.3: acknowledge with the server's clock as {"server_time": seconds}.
    raise NotImplementedError('Exercise 1.3 is not implemented yet (see lessons/01_basics/README.md, "Exercise 1.3")')


@socketio.on("message")
def on_message(text):
    # Goal: the client that sent the text gets it back as an unnamed message, after "echo: ".
    # Constraint: no other client sees the echo. (make hint EX=1.4 if you are stuck.)
    # Exercise 1.4: send() the text back to this client only, prefixed with "echo: ".
    raise NotImplementedError('Exercise 1.4 is not implemented yet (see lessons/01_basics/README.md, "Exercise 1.4")')


if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(f"Lesson 01 chat on http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    # The Werkzeug dev server is for learning only; lesson 04 runs gunicorn.
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
