"""Lesson 03: start the web app on the development server. `python run.py`, then open the URL.

Reports also need Redis (REDIS_URL) and a worker: `celery -A make_celery:celery_app worker
--pool threads`. `make run LESSON=03` starts all three.
"""

import os

from extensions import socketio
from factory import create_app

app = create_app()

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    users = ", ".join(sorted(set(app.config["CHAT_TOKENS"].values())))
    print(f"Lesson 03 on http://{host}:{port}/ (users: {users}; Ctrl-C stops it)", flush=True)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
