"""Lesson 04 on the development server (threads), as in lesson 03: `python run.py`.

Production runs `gunicorn wsgi:app` (gunicorn.conf.py) instead; `python run_gevent.py` runs
gevent without gunicorn. `make run LESSON=04` starts Redis, the worker, gunicorn and nginx.
This file never serves the production config: Werkzeug is a development server.
"""

import os

from config import config_from_env
from extensions import socketio
from factory import WERKZEUG_IS_NOT_PRODUCTION, create_app

config = config_from_env()
if getattr(config, "REQUIRED_ENVIRONMENT", None):  # the production config
    raise SystemExit(WERKZEUG_IS_NOT_PRODUCTION)
app = create_app(config)

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    users = ", ".join(sorted(set(app.config["CHAT_TOKENS"].values())))
    print(f"Lesson 04 on http://{host}:{port}/ (users: {users}; Ctrl-C stops it)", flush=True)
    # allow_unsafe_werkzeug: Flask-SocketIO refuses Werkzeug without a terminal otherwise; the
    # production config never gets here (above).
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
