"""Run this stage's app with python-socketio's and python-engineio's logs on:

    python troubleshooting/run_logged.py

The same as passing logger=True, engineio_logger=True to SocketIO(...), without editing the
app: both libraries keep a logger at the level they find set (socketio/base_server.py), so
setting it to INFO before the app is imported makes them log every event and packet.
"""

import logging
import os
import runpy
import sys
from pathlib import Path

STAGE = Path(__file__).resolve().parent.parent
SCRIPT = "app.py" if (STAGE / "app.py").is_file() else "run.py"  # lesson 01, or 02 on

logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
for name in ("socketio.server", "engineio.server"):
    logging.getLogger(name).setLevel(logging.INFO)

os.chdir(STAGE)
sys.path.insert(0, str(STAGE))
runpy.run_path(str(STAGE / SCRIPT), run_name="__main__")
