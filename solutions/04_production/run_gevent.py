"""gevent without gunicorn: `python run_gevent.py`. monkey.patch_all() must come first.

Nothing may import socket, ssl, threading or redis before the patch: a module that did would
keep the blocking originals, and the Redis message queue refuses to run on gevent unpatched
("Redis requires a monkey patched socket library"). gunicorn's gevent workers patch for you.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402 - after the patch, on purpose

from config import config_from_env  # noqa: E402
from extensions import socketio  # noqa: E402
from factory import create_app  # noqa: E402

app = create_app(config_from_env())

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    print(f"Lesson 04 on gevent at http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    socketio.run(app, host=host, port=port)
