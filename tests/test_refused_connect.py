"""A refused connect ends the DB session its on_connect opened (lessons 02-04).

python-socketio never runs on_disconnect for a connect that was refused
(socketio/server.py, _handle_connect), and each stage keys db.session on the connection's sid
(extensions.session_scope), so only BaseSocket.on_connect itself can remove it. This makes
on_connect fail after it used the database (the error handler turns that into a refusal) and
looks for a session left behind under the refused sid.
"""

import subprocess
import sys

import pytest

from autograder.paths import SOLUTIONS

PROBE = """
from config import TestingConfig
from extensions import db, socketio
from factory import create_app
from resources.socket.base import BaseSocket

app = create_app(TestingConfig)
sessions = {}
socketio.server.eio.get_session = lambda eio_sid: sessions.setdefault(eio_sid, {})


def fails(self):
    db.session.connection()  # the sid's session now holds a pooled connection
    raise RuntimeError("the database went away")


BaseSocket.online_count = fails
token = next(iter(TestingConfig.CHAT_TOKENS))
client = socketio.test_client(app, namespace="/chat", auth={"token": token})
print("connected", client.is_connected("/chat"))
left = [key for key in db.session.registry.registry if isinstance(key, tuple)]
print("sessions left", left)
"""


@pytest.mark.parametrize("stage", ["02_namespaces", "03_celery_rooms", "04_production"])
def test_a_refused_connect_leaves_no_db_session(stage):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=SOLUTIONS / stage,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "connected False" in result.stdout, result.stdout
    assert "sessions left []" in result.stdout, result.stdout
