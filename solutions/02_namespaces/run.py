"""Lesson 02: start the chat on the development server. `python run.py`, then open the URL."""

import os

from extensions import socketio
from factory import create_app

app = create_app()

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    users = ", ".join(sorted(set(app.config["CHAT_TOKENS"].values())))
    print(f"Lesson 02 chat on http://{host}:{port}/ (users: {users}; Ctrl-C stops it)", flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
